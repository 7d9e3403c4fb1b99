// A small history-API router: `navigate(path)`, `<Link href>`, and `useLocation()` giving the
// path and its query parameters. The dev server answers every path with index.html.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();

function current() {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** Goes to `href` (a path with an optional query) without reloading the page. */
export function navigate(href, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", href);
  for (const listener of listeners) listener(current());
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => {
  for (const listener of listeners) listener(current());
});

/** The current path and query parameters, kept up to date. */
export function useLocation() {
  const [where, setWhere] = useState(current);
  useEffect(() => {
    listeners.add(setWhere);
    return () => listeners.delete(setWhere);
  }, []);
  return where;
}

/** An anchor that navigates in place (a modified click still opens a new tab). */
export function Link({ href, children, ...rest }) {
  const onClick = (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** `href` with these query parameters (null or empty ones left out). */
export function withParams(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
