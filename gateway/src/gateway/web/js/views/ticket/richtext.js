// Comments arrive as HTML the server rendered from their Markdown and sanitised
// (helpdesk_common.markdown: an allow-list of tags, links only to http(s) and mailto). The
// browser never builds HTML from a comment's raw text.
//
// The HTML is parsed with DOMParser into an inert document (nothing in it runs or loads)
// and copied into the page element by element through the same allow-list, so that even a
// server bug could not put a script, an event handler or a javascript: link on the page.
// No HTML string is ever assigned to an element of the page itself.

const TAGS = new Set(["p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "a", "h1", "h2", "h3", "h4", "h5", "h6"]);
// Elements dropped with everything inside them (the rest of unknown ones keep their text).
const DROPPED = new Set(["script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript"]);
const ATTRIBUTES = { a: ["href", "title"], ol: ["start"] };
const SAFE_URL = /^(https?:\/\/|mailto:)/i;

function copy(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(node.data));
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) continue; // comments, processing instructions
    const tag = node.localName;
    if (DROPPED.has(tag)) continue;
    if (!TAGS.has(tag)) {
      copy(node, target); // an unknown wrapper: its text stays, the element goes
      continue;
    }
    const el = document.createElement(tag);
    for (const name of ATTRIBUTES[tag] || []) {
      const value = node.getAttribute(name);
      if (value === null) continue;
      if (name === "href" && !SAFE_URL.test(value.trim())) continue;
      if (name === "start" && !/^\d{1,9}$/.test(value)) continue;
      el.setAttribute(name, value);
    }
    if (tag === "a") {
      // A link in a comment leaves the helpdesk: in a new tab, without opener or referrer.
      el.setAttribute("rel", "noopener noreferrer nofollow");
      if (el.hasAttribute("href")) el.setAttribute("target", "_blank");
    }
    copy(node, el);
    target.append(el);
  }
}

/** The server's sanitised HTML of a comment as a DocumentFragment for the page. */
export function richText(html) {
  const fragment = document.createDocumentFragment();
  if (!html) return fragment;
  const parsed = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
  copy(parsed.body, fragment);
  return fragment;
}
