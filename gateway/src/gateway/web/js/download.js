// Downloads of generated documents (PDF, CSV). The API needs the Bearer header, so a plain
// link cannot fetch them: the file is fetched (with the token and its refresh), read as a
// Blob and handed to the browser through a temporary <a download>.

import { fetchFile } from "./api.js";
import { h, icon } from "./dom.js";
import { t } from "./i18n.js";
import { errorText, toast } from "./ui.js";

/** Hand a Blob to the browser as a download named `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename || "download", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken the file once the click's task is over; a minute is generous.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Fetch `path` (with `query`) and save it. Resolves with the file name; rejects with an
 * ApiError (the server's error.code and message) when the document cannot be made.
 */
export async function download(path, { query, fallbackName } = {}) {
  const file = await fetchFile(path, { query });
  const name = file.filename || fallbackName || path.split("/").pop() || "download";
  saveBlob(file.blob, name);
  return name;
}

/**
 * Run `fn` with `button` busy (disabled, aria-busy, "Menyiapkan…"); an error is shown as a
 * toast, or handed to `onError` when given. Resolves with fn's result, or undefined.
 */
export async function busy(button, fn, { onError } = {}) {
  if (button.getAttribute("aria-busy") === "true") return undefined;
  const label = button.querySelector(".btn-label");
  const original = label?.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (label) label.textContent = t("doc.preparing");
  try {
    return await fn();
  } catch (err) {
    if (onError) onError(err);
    else toast(errorText(err), "error");
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (label) label.textContent = original;
  }
}

/**
 * A button that downloads a document: downloadButton({label, path, query: () => ({...}),
 * title, className, dataset, onError, onDone}). `query` is read at click time, so it
 * follows filters that changed after the button was made.
 */
export function downloadButton({ label, path, query, title, className, dataset, onError, onDone, fallbackName }) {
  const button = h(
    "button",
    { type: "button", class: ["btn btn-download", className], title: title || null, "aria-label": title || null, dataset },
    icon("download"),
    h("span", { class: "btn-label" }, label),
  );
  button.addEventListener("click", async () => {
    const target = typeof path === "function" ? path() : path;
    const name = await busy(button, () => download(target, { query: typeof query === "function" ? query() : query, fallbackName }), { onError });
    if (name) {
      toast(t("doc.downloaded", { name }));
      onDone?.(name);
    }
  });
  return button;
}
