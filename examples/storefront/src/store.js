// What the shopper's browser keeps between visits: the session token and the cart's id
// (localStorage), with a hook that re-renders a component when either changes.
import { useEffect, useState } from "preact/hooks";

const KEYS = { token: "bazaar.session", cartId: "bazaar.cart" };
const listeners = new Set();

function read() {
  return { token: localStorage.getItem(KEYS.token), cartId: localStorage.getItem(KEYS.cartId) };
}

let state = read();

/** The current token and cart id. */
export const getState = () => state;

/** Changes some of them (null forgets one) and tells every subscriber. */
export function setState(changes) {
  for (const [name, value] of Object.entries(changes)) {
    if (value) localStorage.setItem(KEYS[name], value);
    else localStorage.removeItem(KEYS[name]);
  }
  state = read();
  for (const listener of listeners) listener(state);
}

/** The current token and cart id, kept up to date. */
export function useStore() {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    listeners.add(setCurrent);
    setCurrent(state);
    return () => listeners.delete(setCurrent);
  }, []);
  return current;
}

// Another tab signed in or out, or checked out.
window.addEventListener("storage", () => setState({}));

/** A key for an idempotent retry: random, made once per attempt. */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
