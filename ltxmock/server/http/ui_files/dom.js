// Small DOM helpers shared by the dashboard's modules: every text is set as text.

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function time(at) {
  return typeof at === "number" ? new Date(at * 1000).toLocaleTimeString() : "";
}

export function money(value) {
  return `$${Number(value || 0).toFixed(4)}`;
}
