// The cart's size, and adding to the cart: opens a cart on first use (keeping its id), and
// opens a new one when the kept id no longer works (checked out, or it belonged to a session
// that ended).
import { useQuery } from "@urql/preact";
import { getState, setState } from "./store.js";

export const CART_COUNT = `query CartCount($id: ID!) { cart(id: $id) { id itemCount } }`;

/** A cart holds at most 50 lines. */
const MAX_LINES = 50;

/**
 * The units in the kept cart (null until known), and how many lines to ask for. A list is
 * priced at the most it can return, so asking for 50 lines with their prices and variants
 * costs about a whole budget (1,000 points); a cart has no more lines than units.
 */
export function useCartSize(cartId, requestPolicy = "cache-first") {
  const [{ data }] = useQuery({ query: CART_COUNT, variables: { id: cartId }, pause: !cartId, requestPolicy });
  const units = data ? data.cart?.itemCount ?? 0 : null;
  return { units, lines: Math.min(MAX_LINES, units ?? 0) };
}

const CART_CREATE = `mutation { cartCreate { cart { id } userErrors { field message code } } }`;
const LINES_ADD = `
  mutation AddToCart($cartId: ID!, $lines: [CartLineInput!]!) {
    cartLinesAdd(cartId: $cartId, lines: $lines) {
      cart { id itemCount }
      userErrors { field message code }
    }
  }
`;

async function mutate(client, query, variables) {
  const result = await client.mutation(query, variables).toPromise();
  if (result.error) throw result.error;
  return result.data;
}

async function openCart(client) {
  const { cartCreate } = await mutate(client, CART_CREATE, {});
  if (!cartCreate.cart) throw new Error(cartCreate.userErrors.map((e) => e.message).join("; "));
  return cartCreate.cart.id;
}

/** Adds `quantity` units of a variant; the payload's user errors (e.g. not enough stock). */
export async function addToCart(client, variantId, quantity) {
  let cartId = getState().cartId ?? (await openCart(client));
  const lines = [{ variantId, quantity }];
  let { cartLinesAdd } = await mutate(client, LINES_ADD, { cartId, lines });
  const gone = cartLinesAdd.userErrors.some((e) => e.code === "NOT_FOUND" && e.field?.includes("cartId"))
    || cartLinesAdd.userErrors.some((e) => e.code === "ALREADY_COMPLETED");
  if (gone) {
    cartId = await openCart(client);
    ({ cartLinesAdd } = await mutate(client, LINES_ADD, { cartId, lines }));
  }
  // Kept only now: what reads the cart (the header's count) reads it with the line in it.
  if (cartLinesAdd.cart) setState({ cartId: cartLinesAdd.cart.id });
  return cartLinesAdd.userErrors;
}
