// Copy a field's text, with the old way as a fallback (plain http on the hall's network has no
// clipboard API), and say so on the button (and in a status line, if given) for two seconds.
import { t } from "./i18n.js";

export async function copy(button, input, status = null) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    document.execCommand?.("copy");
  }
  button.dataset.label ||= button.textContent;
  button.textContent = t("Copied");
  if (status) status.textContent = t("Copied");
  setTimeout(() => { button.textContent = button.dataset.label; }, 2000);
}
