// A ticket's files (the attachments service, /api/attachments): the list with thumbnails,
// scan state, download, preview and delete; the upload area (a button and drag-and-drop,
// the kind for IT staff) with the policy's checks before anything is sent and a progress
// bar per file; the files' lines on the timeline. The new-ticket form uses the checks and
// the uploads too (filePicker, uploadAll).
//
// Files need the Authorization header: thumbnails, previews and downloads are fetched as
// blobs and shown from object URLs (revoked when replaced or when the page is left).

import { api, fetchFile, idempotencyKey, upload } from "../../api.js";
import { h, icon, replace, uniqueId } from "../../dom.js";
import { busy, saveBlob } from "../../download.js";
import { has, locale, roleLabel, statusLabel, t } from "../../i18n.js";
import * as store from "../../store.js";
import { confirmDialog, errorBox, errorText, fmtDateTime, timeEl, toast } from "../../ui.js";

const A = "/api/attachments";
const CLOSED = new Set(["closed", "rejected"]);
const OPEN = new Set(["new", "in_progress", "pending"]);
// While a file waits for its scan (or just after a change, for the timeline's line that
// the tickets service writes from the event), the list is fetched again this often.
const POLL_MS = 3000;
const SETTLE_MS = 6000;
// A refused upload that may pass when sent again (the same Idempotency-Key: never twice).
const RETRYABLE = new Set(["network", "storage_unavailable", "upload_in_progress", "service_unavailable", "bad_gateway", "gateway_timeout"]);

// -- formatting -----------------------------------------------------------------------------

/** 1536 -> "1,5 KB" (id) / "1.5 KB" (en); binary units, as the service states its limits. */
export function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  for (const [unit, size] of [
    ["MB", 1024 * 1024],
    ["KB", 1024],
  ]) {
    if (n >= size) {
      const digits = n >= 10 * size || n % size === 0 ? 0 : 1;
      return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n / size)} ${unit}`;
    }
  }
  return t("att.bytes", { n: new Intl.NumberFormat(locale()).format(n) });
}

export const kindLabel = (kind) => (has(`att.kind.${kind}`) ? t(`att.kind.${kind}`) : kind);

const typeNames = (policy) => policy.allowed_types.map((type) => type.name.toUpperCase()).join(", ");
const extensions = (policy) => new Set(policy.allowed_types.flatMap((type) => type.extensions.map((e) => e.toLowerCase())));
const extensionOf = (name) => {
  const m = /\.[^./\\]+$/.exec(name || "");
  return m ? m[0].toLowerCase() : "";
};

/** The hint under an upload control: types, the size limit, the count limit. */
export function limitsText(policy) {
  return t("att.limits", { types: typeNames(policy), max: fmtSize(policy.max_file_bytes), count: policy.max_files_per_ticket });
}

/** A refusal of the service in the user's language, with the details its answer carries
 * (the detected type, the limit); any other error as errorText says it. */
export function uploadError(err) {
  const data = err?.data || {};
  const code = err?.code || "";
  if (code === "unsupported_type") {
    return t("att.err.unsupported_type", { detected: data.detected || "?", allowed: (data.allowed || []).map((n) => n.toUpperCase()).join(", ") });
  }
  if (code === "file_too_large") return t("att.err.file_too_large", { max: fmtSize(data.limit_bytes) });
  if (code === "ticket_files_too_large") return t("att.err.ticket_files_too_large", { max: fmtSize(data.limit_bytes) });
  if (code === "too_many_files") return t("att.err.too_many_files", { max: data.limit ?? "?" });
  if (has(`att.err.${code}`)) return t(`att.err.${code}`);
  return errorText(err);
}

// -- checks before sending -------------------------------------------------------------------

/**
 * The policy's checks of chosen files: [{file, problem}] in order, problem null when the
 * file may be sent. `existing` is what the ticket already has ({count, bytes}).
 */
export function checkFiles(files, policy, existing = { count: 0, bytes: 0 }) {
  const allowed = extensions(policy);
  let count = existing.count;
  let bytes = existing.bytes;
  return Array.from(files, (file) => {
    const ext = extensionOf(file.name);
    let problem = null;
    if (!ext || !allowed.has(ext)) problem = t(ext ? "att.err.type" : "att.err.no_type", { name: file.name, ext, types: typeNames(policy) });
    else if (file.size === 0) problem = t("att.err.empty", { name: file.name });
    else if (file.size > policy.max_file_bytes) problem = t("att.err.size", { name: file.name, size: fmtSize(file.size), max: fmtSize(policy.max_file_bytes) });
    else if (count + 1 > policy.max_files_per_ticket) problem = t("att.err.count", { name: file.name, max: policy.max_files_per_ticket });
    else if (bytes + file.size > policy.max_ticket_bytes) problem = t("att.err.total", { name: file.name, max: fmtSize(policy.max_ticket_bytes) });
    if (!problem) {
      count += 1;
      bytes += file.size;
    }
    return { file, problem };
  });
}

// -- uploads --------------------------------------------------------------------------------

/**
 * One file sent to a ticket, drawn as a row of `queue` with its progress bar; a refusal
 * stays in the row with the service's reason (and "send again" when that may help, with
 * the same Idempotency-Key). Resolves with {ok, attachment, error}.
 */
function uploadJob(ticketId, file, { kind, queue, onRetried }) {
  const key = idempotencyKey();
  const bar = h("progress", { max: 100, value: 0, "aria-label": file.name });
  const status = h("span", { class: "att-job-status" }, t("att.waiting"));
  const actions = h("span", { class: "att-job-actions" });
  const row = h(
    "li",
    { class: "att-job", dataset: { state: "waiting" } },
    h("span", { class: "att-job-name" }, icon("upload"), " ", file.name, h("span", { class: "muted" }, ` · ${fmtSize(file.size)}`)),
    bar,
    status,
    actions,
  );
  queue.append(row);

  async function send() {
    row.dataset.state = "uploading";
    replace(actions);
    status.textContent = t("att.uploading", { percent: 0 });
    bar.hidden = false;
    bar.value = 0;
    try {
      const attachment = await upload(`${A}/tickets/${encodeURIComponent(ticketId)}/attachments`, {
        file,
        fields: { kind },
        headers: { "Idempotency-Key": key },
        onProgress: (loaded, total) => {
          const percent = Math.min(100, Math.round((loaded / total) * 100));
          bar.value = percent;
          // The last bytes are sent: the service checks the file before it answers.
          status.textContent = percent >= 100 ? t("att.checking") : t("att.uploading", { percent });
        },
      });
      row.dataset.state = "done";
      bar.value = 100;
      status.textContent = t("att.uploaded");
      return { ok: true, attachment, file };
    } catch (error) {
      row.dataset.state = "failed";
      bar.hidden = true;
      status.textContent = uploadError(error);
      status.setAttribute("role", "alert");
      const dismiss = h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => row.remove() }, t("common.close"));
      if (RETRYABLE.has(error.code) || error.status === 503) {
        const again = h("button", { type: "button", class: "btn btn-small", dataset: { action: "retry-upload" } }, t("common.retry"));
        again.addEventListener("click", async () => {
          status.removeAttribute("role");
          const result = await send();
          onRetried?.(result);
        });
        replace(actions, again, dismiss);
      } else {
        replace(actions, dismiss);
      }
      return { ok: false, error, file };
    }
  }
  return { row, send };
}

/** Send `files` to the ticket one after another (rows in `queue`); resolves with the results. */
export async function uploadAll(ticketId, files, { kind, queue, onRetried } = {}) {
  const jobs = files.map((file) => uploadJob(ticketId, file, { kind, queue, onRetried }));
  const results = [];
  for (const job of jobs) results.push(await job.send());
  return results;
}

// Files the new-ticket form could not send: shown on the ticket's page it goes to.
const leftOver = new Map();
export function rememberFailures(ticketId, failures) {
  if (failures.length) leftOver.set(ticketId, failures);
}

// -- the new-ticket form's picker ----------------------------------------------------------

/**
 * An optional file input (several files) checked against the policy as files are chosen:
 * {el, files(), valid(), focus()}. Without a policy (the service unreachable) it is null.
 */
export async function filePicker() {
  let policy;
  try {
    policy = await store.attachmentPolicy();
  } catch {
    return null;
  }
  if (!policy.kinds.length) return null;
  const id = uniqueId("f-files");
  const input = h("input", {
    type: "file",
    id,
    name: "files",
    multiple: true,
    accept: Array.from(extensions(policy)).join(","),
    "aria-describedby": `${id}-hint ${id}-err`,
  });
  const chosen = h("ul", { class: "att-chosen" });
  const error = h("p", { class: "field-error", id: `${id}-err`, hidden: true });
  let checked = [];
  input.addEventListener("change", () => {
    checked = checkFiles(input.files, policy);
    replace(
      chosen,
      checked.map(({ file, problem }) =>
        h("li", { class: problem ? "is-refused" : null }, icon("file"), " ", file.name, h("span", { class: "muted" }, ` · ${fmtSize(file.size)}`)),
      ),
    );
    const problems = checked.filter((c) => c.problem).map((c) => c.problem);
    error.hidden = !problems.length;
    replace(error, problems.length > 1 ? h("ul", problems.map((p) => h("li", p))) : problems[0] || null);
    if (problems.length) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  });
  const el = h(
    "div",
    { class: "field att-field" },
    h("label", { for: id }, `${t("att.title")} ${t("common.optional")}`),
    input,
    h("p", { class: "hint", id: `${id}-hint` }, limitsText(policy), policy.scan_enabled ? null : ` ${t("att.no_scan_note")}`),
    chosen,
    error,
  );
  return {
    el,
    files: () => checked.filter((c) => !c.problem).map((c) => c.file),
    valid: () => checked.every((c) => !c.problem),
    // Files sent with a new ticket support the request (an agent's default is evidence).
    kind: policy.kinds.includes("supporting") ? "supporting" : undefined,
    focus: () => input.focus(),
  };
}

// -- the ticket page's section ----------------------------------------------------------------

/**
 * The "Lampiran" section of a ticket's page: {el, update(ticket), load()}. `onTimeline`
 * is called when the files changed (their lines appear on the ticket's timeline).
 */
export function attachmentsSection({ ticket: initial, isCurrent, onTimeline }) {
  let ticket = initial;
  let policy = null;
  let items = [];
  let signature = "";
  let timer = null;
  let settleUntil = 0;
  let stopped = false;
  const thumbs = new Map(); // attachment id -> object URL (or a pending promise)
  const me = store.state.me;
  const staff = me.role !== "requester";

  const titleId = uniqueId("att-title");
  const notes = h("div", { class: "att-notes" });
  const list = h("div", { class: "att-list-wrap" }, h("p", { class: "loading", role: "status" }, t("app.loading")));
  const uploadArea = h("div", { class: "att-upload-wrap" });
  const queue = h("ul", { class: "att-queue", "aria-live": "polite" });
  const el = h(
    "section",
    { class: "card attachments", "aria-labelledby": titleId, dataset: { section: "attachments" } },
    h("h2", { id: titleId }, t("att.title")),
    notes,
    list,
    uploadArea,
    queue,
  );

  const failures = leftOver.get(ticket.id);
  leftOver.delete(ticket.id);
  const failedBox = failures?.length
    ? h(
        "div",
        { class: "alert alert-warning att-failed", role: "alert" },
        t("att.new_failed"),
        h("ul", failures.map((f) => h("li", h("strong", f.name), `: ${f.reason}`))),
      )
    : null;

  function stop() {
    stopped = true;
    clearTimeout(timer);
    for (const url of thumbs.values()) if (typeof url === "string") URL.revokeObjectURL(url);
    thumbs.clear();
    window.removeEventListener("hashchange", onLeave);
  }
  function onLeave() {
    if (!isCurrent()) stop();
  }
  window.addEventListener("hashchange", onLeave);
  const alive = () => !stopped && isCurrent() && el.isConnected;

  const canUpload = () => policy && policy.kinds.length > 0 && me.role !== "leader" && !CLOSED.has(ticket.status);
  const canDelete = (a) =>
    me.role === "admin" || (policy?.delete_policy !== "admin" && a.uploaded_by.id === me.id && OPEN.has(ticket.status));

  function renderNotes() {
    replace(
      notes,
      failedBox,
      policy && !policy.scan_enabled ? h("p", { class: "hint att-no-scan" }, icon("lock"), " ", t("att.no_scan_note")) : null,
    );
  }

  async function thumbnail(a, img, placeholder) {
    let url = thumbs.get(a.id);
    if (!url) {
      const loading = fetchFile(a.thumbnail_url).then((file) => URL.createObjectURL(file.blob));
      thumbs.set(a.id, loading);
      try {
        url = await loading;
      } catch {
        thumbs.delete(a.id);
        return;
      }
      if (stopped) {
        URL.revokeObjectURL(url);
        return;
      }
      thumbs.set(a.id, url);
    } else if (typeof url !== "string") {
      try {
        url = await url;
      } catch {
        return;
      }
    }
    img.src = url;
    img.hidden = false;
    placeholder.hidden = true;
  }

  function scanBadge(a) {
    const status = a.scan_status;
    if (status === "pending") {
      return h("span", { class: "badge scan-pending" }, icon("clock"), " ", t(staff ? "att.scan.pending_staff" : "att.scan.pending"));
    }
    const cls = { clean: "scan-clean", infected: "scan-infected", too_large: "scan-warn", not_scanned: "badge-muted" }[status] || "badge-muted";
    return h("span", { class: ["badge", cls] }, has(`att.scan.${status}`) ? t(`att.scan.${status}`) : status);
  }

  function scanNote(a) {
    if (a.scan_status === "infected") {
      return h("p", { class: "att-note text-danger" }, t("att.infected_note"), a.scan_signature ? [" ", t("att.signature", { signature: a.scan_signature })] : null);
    }
    if (a.scan_status === "pending") {
      return h("p", { class: ["att-note", staff ? "att-note-warn" : "muted"] }, t(staff ? "att.pending_staff" : "att.pending_requester"));
    }
    if (a.scan_status === "too_large" && !a.downloadable) return h("p", { class: "att-note muted" }, t("att.too_large_requester"));
    if (a.scan_status === "too_large" && staff) return h("p", { class: "att-note att-note-warn" }, t("att.too_large_staff"));
    return null;
  }

  function item(a) {
    const previewable = a.inline && a.downloadable;
    let thumb;
    if (a.has_thumbnail && a.downloadable && a.thumbnail_url) {
      const img = h("img", { class: "att-thumb-img", alt: t("att.thumb_alt", { name: a.filename }), hidden: true, width: 64, height: 64 });
      const placeholder = h("span", { class: "att-thumb-icon" }, icon("file"));
      thumb = [placeholder, img];
      thumbnail(a, img, placeholder);
    } else {
      thumb = h("span", { class: "att-thumb-icon" }, icon(a.scan_status === "infected" ? "lock" : "file"));
    }
    const thumbBox = previewable
      ? h("button", { type: "button", class: "att-thumb", title: t("att.preview"), "aria-label": `${t("att.preview")}: ${a.filename}`, onclick: () => preview(a) }, thumb)
      : h("span", { class: "att-thumb" }, thumb);
    const uploader = a.uploaded_by;
    const download = h("button", { type: "button", class: "btn btn-small btn-download", dataset: { action: "download" } }, icon("download"), h("span", { class: "btn-label" }, t("att.download")));
    download.addEventListener("click", () => busy(download, () => saveFile(a), { onError: (err) => toast(uploadError(err), "error") }));
    return h(
      "li",
      { class: ["att-item", `att-${a.scan_status}`], dataset: { attachmentId: a.id, scan: a.scan_status, kind: a.kind } },
      thumbBox,
      h(
        "div",
        { class: "att-body" },
        h("p", { class: "att-name" }, a.filename),
        h(
          "p",
          { class: "att-meta" },
          h("span", { class: "att-type" }, a.type.toUpperCase()),
          h("span", { class: "att-size" }, fmtSize(a.size)),
          h("span", { class: "badge badge-info att-kind" }, kindLabel(a.kind)),
          scanBadge(a),
        ),
        h(
          "p",
          { class: "att-by muted" },
          uploader.name,
          uploader.role ? ` (${roleLabel(uploader.role)})` : null,
          " · ",
          timeEl(a.uploaded_at, fmtDateTime(a.uploaded_at)),
        ),
        scanNote(a),
      ),
      h(
        "div",
        { class: "att-actions" },
        previewable ? h("button", { type: "button", class: "btn btn-small", dataset: { action: "preview" }, onclick: () => preview(a) }, t("att.preview")) : null,
        a.downloadable ? download : null,
        canDelete(a)
          ? h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { action: "delete" }, onclick: () => remove(a) }, t("att.delete"))
          : null,
      ),
    );
  }

  function renderList() {
    // Thumbnails of files no longer listed are let go.
    const ids = new Set(items.map((a) => a.id));
    for (const [id, url] of thumbs) {
      if (!ids.has(id)) {
        if (typeof url === "string") URL.revokeObjectURL(url);
        thumbs.delete(id);
      }
    }
    replace(list, items.length ? h("ul", { class: "att-list" }, items.map(item)) : h("p", { class: "empty att-empty" }, t("att.empty")));
  }

  function renderUpload() {
    if (!canUpload()) {
      replace(
        uploadArea,
        policy && CLOSED.has(ticket.status) && me.role !== "leader" ? h("p", { class: "hint" }, t("att.closed_note", { status: statusLabel(ticket.status) })) : null,
      );
      return;
    }
    const id = uniqueId("att-file");
    const input = h("input", {
      type: "file",
      id,
      name: "file",
      multiple: true,
      class: "visually-hidden",
      accept: Array.from(extensions(policy)).join(","),
      "aria-describedby": `${id}-hint ${id}-err`,
    });
    const error = h("p", { class: "field-error", id: `${id}-err`, hidden: true });
    const kinds = policy.kinds;
    const kindId = uniqueId("att-kind");
    const kindSelect =
      kinds.length > 1
        ? h(
            "div",
            { class: "field att-kind-field" },
            h("label", { for: kindId }, t("att.kind")),
            h(
              "select",
              { id: kindId, name: "kind" },
              kinds.map((k) => h("option", { value: k, selected: k === (staff ? "evidence" : kinds[0]) }, kindLabel(k))),
            ),
          )
        : null;
    const zone = h(
      "div",
      { class: "att-drop", dataset: { drop: "" } },
      icon("upload"),
      h("span", { class: "att-drop-text" }, t("att.drop")),
      h("label", { for: id, class: "btn btn-small btn-primary att-choose" }, t("att.choose")),
      input,
    );
    function send(files) {
      const existing = { count: items.length, bytes: items.reduce((sum, a) => sum + a.size, 0) };
      const checked = checkFiles(files, policy, existing);
      const problems = checked.filter((c) => c.problem).map((c) => c.problem);
      error.hidden = !problems.length;
      replace(error, problems.length > 1 ? h("ul", problems.map((p) => h("li", p))) : problems[0] || null);
      if (problems.length) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      const good = checked.filter((c) => !c.problem).map((c) => c.file);
      input.value = "";
      if (good.length) enqueue(good, kindSelect ? kindSelect.querySelector("select").value : kinds[0]);
    }
    input.addEventListener("change", () => send(input.files));
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("is-over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("is-over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("is-over");
      if (event.dataTransfer?.files?.length) send(event.dataTransfer.files);
    });
    replace(
      uploadArea,
      h(
        "div",
        { class: "att-upload" },
        h("h3", t("att.upload_title")),
        kindSelect,
        zone,
        h("p", { class: "hint", id: `${id}-hint` }, limitsText(policy)),
        error,
      ),
    );
  }

  // Uploads run one after another, whatever was added while others were being sent.
  let chain = Promise.resolve();
  function enqueue(files, kind) {
    chain = chain.then(async () => {
      const results = await uploadAll(ticket.id, files, { kind, queue, onRetried: afterUploads });
      await afterUploads(results);
    });
  }

  async function afterUploads(results) {
    const list = Array.isArray(results) ? results : [results];
    const done = list.filter((r) => r.ok);
    if (!done.length || !alive()) return;
    toast(done.length === 1 ? t("att.uploaded_toast", { name: done[0].attachment.filename }) : t("att.uploaded_many", { n: done.length }));
    for (const row of queue.querySelectorAll(".att-job[data-state=done]")) row.remove();
    changed();
  }

  /** After an upload or a removal: the list now, the timeline's line as it arrives. */
  function changed() {
    settleUntil = Date.now() + SETTLE_MS;
    refresh();
  }

  async function saveFile(a) {
    const file = await fetchFile(a.content_url, { query: { download: true } });
    saveBlob(file.blob, file.filename || a.filename);
    toast(t("doc.downloaded", { name: file.filename || a.filename }));
  }

  async function preview(a) {
    const titleId = uniqueId("dlg-title");
    const body = h("div", { class: "preview-body" }, h("p", { class: "loading", role: "status" }, t("att.loading_preview")));
    const close = h("button", { type: "button", class: "btn btn-primary" }, t("common.close"));
    const actions = h("div", { class: "dialog-actions" }, close);
    const dialog = h("dialog", { class: "dialog dialog-preview", "aria-labelledby": titleId }, h("h2", { id: titleId }, a.filename), body, actions);
    let url = null;
    const opener = document.activeElement;
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (url) URL.revokeObjectURL(url);
      url = "closed";
      if (opener && opener.isConnected) opener.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    close.focus();
    try {
      const file = await fetchFile(a.content_url);
      if (url === "closed") return;
      url = URL.createObjectURL(file.blob.type ? file.blob : new Blob([file.blob], { type: a.media_type }));
      const view =
        a.media_type === "application/pdf"
          ? h("iframe", { class: "preview-pdf", src: url, title: a.filename })
          : h("img", { class: "preview-img", src: url, alt: a.filename });
      replace(body, view);
      const save = h("button", { type: "button", class: "btn btn-download", dataset: { action: "download" } }, icon("download"), h("span", { class: "btn-label" }, t("att.download")));
      save.addEventListener("click", () => saveBlob(file.blob, file.filename || a.filename));
      actions.prepend(h("a", { class: "btn", href: url, target: "_blank", rel: "noopener" }, t("att.open_tab")), save);
    } catch (err) {
      replace(body, h("div", { class: "alert alert-error", role: "alert" }, uploadError(err)));
    }
  }

  async function remove(a) {
    const ok = await confirmDialog({
      title: t("att.delete_title"),
      message: t("att.delete_confirm", { name: a.filename }),
      confirmLabel: t("att.delete"),
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`${A}/attachments/${encodeURIComponent(a.id)}`, { method: "DELETE" });
      toast(t("att.deleted", { name: a.filename }));
    } catch (err) {
      toast(uploadError(err), "error");
    }
    changed();
  }

  async function refresh() {
    try {
      const page = await api(`${A}/tickets/${encodeURIComponent(ticket.id)}/attachments`, { query: { limit: 200 } });
      if (!alive()) return;
      items = page.items;
      const now = JSON.stringify(items.map((a) => [a.id, a.scan_status, a.downloadable, a.has_thumbnail]));
      const first = signature === "";
      const different = now !== signature;
      if (different) {
        signature = now;
        renderList();
      }
      // A change of the files (a scan's verdict, a file added or removed) is on the
      // timeline too, a moment later: the tickets service writes it from the event.
      if (!first && (different || Date.now() < settleUntil)) onTimeline?.();
    } catch (err) {
      if (alive()) replace(list, errorBox(err));
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (!alive()) {
      if (!isCurrent()) stop();
      return;
    }
    const waiting = items.some((a) => a.scan_status === "pending");
    if (waiting || Date.now() < settleUntil) timer = setTimeout(refresh, POLL_MS);
  }

  async function load() {
    try {
      policy = await store.attachmentPolicy();
    } catch (err) {
      if (!alive()) return;
      replace(list, errorBox(err));
      return;
    }
    if (!alive()) return;
    renderNotes();
    renderUpload();
    await refresh();
  }

  /** The ticket changed (an action): the upload area follows its status. */
  function update(next) {
    const before = ticket.status;
    ticket = next;
    if (policy && before !== next.status) {
      renderUpload();
      renderList();
    }
  }

  // refresh: the list again (a live change); changed: and keep looking for a while (a file
  // added or removed elsewhere: its scan and its timeline line follow).
  return { el, load, update, stop, refresh, changed };
}

// -- the timeline's lines ---------------------------------------------------------------------

/** The file a timeline entry of kind attachment_* is about (null for other kinds). */
export function timelineFile(entry) {
  if (!entry.kind?.startsWith("attachment_")) return null;
  const a = entry.after || {};
  const parts = [kindLabel(a.kind), fmtSize(a.size)];
  return h(
    "div",
    { class: "tl-file" },
    h("p", { class: "tl-file-line" }, icon("file"), " ", h("span", { class: "tl-file-name" }, a.filename), h("span", { class: "muted" }, ` · ${parts.join(" · ")}`)),
    a.uploaded_by_name && a.uploaded_by_name !== entry.actor_name && entry.kind !== "attachment_added"
      ? h("p", { class: "muted tl-file-by" }, t("att.tl_uploaded_by", { name: a.uploaded_by_name }))
      : null,
    entry.kind === "attachment_malware_found" && a.signature ? h("p", { class: "tl-file-signature text-danger" }, t("att.signature", { signature: a.signature })) : null,
  );
}
