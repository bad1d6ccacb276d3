// A minimal DOM for unit tests of the widget's view under plain node (no npm packages).
// It implements only what widget.js uses, and refuses innerHTML so that markup injection fails loudly.

class ClassList {
  constructor(el) {
    this.el = el;
  }
  get names() {
    return this.el.className.split(/\s+/).filter(Boolean);
  }
  contains(name) {
    return this.names.includes(name);
  }
  add(...names) {
    this.el.className = [...new Set([...this.names, ...names])].join(" ");
  }
  remove(...names) {
    this.el.className = this.names.filter((n) => !names.includes(n)).join(" ");
  }
  toggle(name, force) {
    const on = force === undefined ? !this.contains(name) : !!force;
    if (on) this.add(name);
    else this.remove(name);
    return on;
  }
}

class Style {
  constructor() {
    this.props = {};
  }
  setProperty(name, value) {
    this.props[name] = String(value);
  }
  getPropertyValue(name) {
    return this.props[name] || "";
  }
}

export class Node {
  constructor(document) {
    this.ownerDocument = document;
    this.childNodes = [];
    this.parentNode = null;
  }
  // like the browser's HTMLCollection: indexable and iterable, but no array methods (find, map...)
  get children() {
    const list = this.childNodes.filter((n) => n instanceof Element);
    const collection = { length: list.length, item: (i) => list[i] ?? null, [Symbol.iterator]: () => list[Symbol.iterator]() };
    list.forEach((el, i) => { collection[i] = el; });
    return collection;
  }
  appendChild(child) {
    if (child instanceof Fragment) {
      for (const c of [...child.childNodes]) this.appendChild(c);
      child.childNodes = [];
      return child;
    }
    if (child.parentNode) child.parentNode.childNodes = child.parentNode.childNodes.filter((c) => c !== child);
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  append(...children) {
    for (const c of children) this.appendChild(typeof c === "string" ? new Text(this.ownerDocument, c) : c);
  }
  replaceChildren(...children) {
    for (const c of this.childNodes) c.parentNode = null;
    this.childNodes = [];
    this.append(...children);
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join("");
  }
  set textContent(value) {
    this.replaceChildren();
    if (value !== "") this.appendChild(new Text(this.ownerDocument, String(value)));
  }
}

export class Text extends Node {
  constructor(document, data) {
    super(document);
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
  set textContent(value) {
    this.data = String(value);
  }
}

export class Fragment extends Node {}

export class Element extends Node {
  constructor(document, tagName, namespaceURI = null) {
    super(document);
    this.tagName = tagName.toUpperCase();
    this.namespaceURI = namespaceURI;
    this.className = "";
    this.classList = new ClassList(this);
    this.style = new Style();
    this.attributes = {};
    this.listeners = {};
    this.hidden = false;
    this.disabled = false;
    this.title = "";
    this.type = "";
    this.value = "";
    this.checked = false;
  }
  set innerHTML(_) {
    throw new Error("innerHTML is not allowed in the widget: set textContent");
  }
  setAttribute(name, value) {
    if (name === "class") this.className = String(value);
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return name === "class" ? this.className : this.attributes[name] ?? null;
  }
  addEventListener(type, listener) {
    (this.listeners[type] ||= []).push(listener);
  }
  removeEventListener(type, listener) {
    this.listeners[type] = (this.listeners[type] || []).filter((l) => l !== listener);
  }
  dispatchEvent(event) {
    event.target ||= this;
    for (let node = this; node && !event.stopped; node = node.parentNode) {
      for (const listener of (node.listeners && node.listeners[event.type]) || []) listener(event);
    }
    return true;
  }
}

export class Document {
  constructor() {
    this.activeElement = null;
  }
  createElement(tagName) {
    return new Element(this, tagName);
  }
  createElementNS(namespaceURI, tagName) {
    return new Element(this, tagName, namespaceURI);
  }
  createDocumentFragment() {
    return new Fragment(this);
  }
  createTextNode(data) {
    return new Text(this, data);
  }
}

// -- test helpers ----------------------------------------------------------------------------

export function event(type, props = {}) {
  return {
    type, stopped: false, defaultPrevented: false, ...props,
    stopPropagation() { this.stopped = true; },
    preventDefault() { this.defaultPrevented = true; },
  };
}

// A key press as the browser delivers it (keydown, bubbling); returns the event to inspect.
export function press(el, key) {
  const ev = event("keydown", { key });
  el.dispatchEvent(ev);
  return ev;
}

export function fire(el, type) {
  el.dispatchEvent(event(type));
}

export function findAll(root, predicate) {
  const found = [];
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (node instanceof Element && predicate(node)) found.push(node);
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]);
  }
  return found;
}

export function byClass(root, name) {
  return findAll(root, (el) => el.classList.contains(name));
}

// A stand-in for the anywidget model: get/set/save_changes/on/off/send with change events.
export class FakeModel {
  constructor(state) {
    this.state = { ...state };
    this.sent = [];
    this.saved = 0;
    this.handlers = {};
  }
  get(name) {
    return this.state[name];
  }
  set(name, value) {
    this.state[name] = value;
    for (const handler of this.handlers[`change:${name}`] || []) handler();
  }
  save_changes() {
    this.saved += 1;
  }
  on(name, handler) {
    (this.handlers[name] ||= []).push(handler);
  }
  off(name, handler) {
    this.handlers[name] = (this.handlers[name] || []).filter((h) => h !== handler);
  }
  send(content) {
    this.sent.push(content);
  }
  // a custom message from Python (anywidget delivers it to model.on("msg:custom", ...))
  receive(content, buffers = []) {
    for (const handler of this.handlers["msg:custom"] || []) handler(content, buffers);
  }
}

export function installDocument() {
  globalThis.document = new Document();
  return globalThis.document;
}
