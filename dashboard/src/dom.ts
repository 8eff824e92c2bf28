// Tiny DOM helpers: elements built in code (no innerHTML, no inline handlers, so the strict
// Content-Security-Policy holds and no server text is ever parsed as markup).

type Child = Node | string | number | null | undefined | false | readonly Child[];
type Props = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

function apply(el: Element, props: Props | undefined): void {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** `h("td", { class: "num" }, "12")`: an HTML element; `on<event>` props become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element, as `h` does for HTML. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  props?: Props,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A column heading: its label, or its label and a class for the `<th>`. */
export type Heading = string | { label: string; class: string };

/** A table with a caption, header cells and rows (each row an array of cells or a `<tr>`). */
export function table(
  caption: string,
  head: readonly Heading[],
  rows: readonly (readonly Child[] | HTMLTableRowElement)[],
  props?: Props,
): HTMLTableElement {
  return h(
    "table",
    props,
    h("caption", {}, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...head.map((x) =>
          typeof x === "string"
            ? h("th", { scope: "col" }, x)
            : h("th", { scope: "col", class: x.class }, x.label),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      ...rows.map((row) =>
        row instanceof HTMLTableRowElement ? row : h("tr", {}, ...row.map((c) => cell(c))),
      ),
    ),
  );
}

/** A `<td>`; numbers are right-aligned. */
export function cell(content: Child, props?: Props): HTMLTableCellElement {
  const numeric =
    typeof content === "number" || (typeof content === "string" && /^[-+]?[\d$.,]/.test(content));
  return h("td", { ...(numeric ? { class: "num" } : {}), ...props }, content);
}

/** Label–value pairs as a description list. */
export function facts(
  pairs: readonly (readonly [string, Child])[],
  props?: Props,
): HTMLDListElement {
  return h(
    "dl",
    { class: "facts", ...props },
    ...pairs.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}

/** A headline number. */
export function tile(label: string, value: string, note?: Child, props?: Props): HTMLElement {
  return h(
    "div",
    { class: "tile", ...props },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value" }, value),
    note ? h("div", { class: "tile-note" }, note) : null,
  );
}
