// Small DOM helpers for the tablet. Text always goes in as text (textContent), never as HTML,
// so whatever a member types stays harmless.

/**
 * h("button", {class: "big", on: {click}}, "Add", child, ...): an element with attributes,
 * event handlers and children (strings become text nodes). `null`/`false` children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name === "on") {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "text") {
      el.textContent = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Make `parent`'s children match `items`, in order, without rebuilding what did not change:
 * an element is kept while its key and signature stay the same (no flicker, focus and
 * scrolling survive), rebuilt when its signature changes, and removed when its item is gone.
 */
export function syncList(parent, items, { key, sig, build }) {
  const existing = new Map();
  for (const el of parent.children) if (el.dataset.key != null) existing.set(el.dataset.key, el);
  const wanted = items.map((item) => {
    const k = String(key(item));
    const s = String(sig(item));
    let el = existing.get(k);
    if (!el || el.dataset.sig !== s) {
      const fresh = build(item);
      fresh.dataset.key = k;
      fresh.dataset.sig = s;
      if (el) el.replaceWith(fresh);
      el = fresh;
    }
    return el;
  });
  const keep = new Set(wanted);
  for (const el of [...parent.children]) if (!keep.has(el)) el.remove();
  wanted.forEach((el, i) => {
    if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
  });
}

/** A random client-made id such as "n-3kq9x0c2a1b4": random, so it says nothing about its author. */
export function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}-${out}`;
}

/** Show or hide with the `hidden` attribute (no inline styles: the CSP forbids them). */
export function show(el, visible) {
  el.hidden = !visible;
}
