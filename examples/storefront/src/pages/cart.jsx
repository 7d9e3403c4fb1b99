// The cart: lines with their quantities and availability, the discount code, and the totals
// the server computed (subtotal, discount, shipping, tax, total).
import { useState } from "preact/hooks";
import { useMutation, useQuery } from "@urql/preact";
import { Errors, Loading, Money } from "../components.jsx";
import { Link } from "../router.jsx";
import { useStore } from "../store.js";
import { useCartSize } from "../cart.js";

export const TOTALS = `totals {
  subtotal { amount currencyCode } discount { amount currencyCode } shipping { amount currencyCode }
  tax { amount currencyCode } total { amount currencyCode } }`;

const CART_FIELDS = `
  id itemCount discountCode discountProblem readyForCheckout completed
  lines(first: $lines) {
    quantity availability quantityAvailable sku productName
    unitPrice { amount currencyCode } lineTotal { amount currencyCode }
    variant { id title product { id slug } }
  }
  ${TOTALS}
`;
const CART = `query Cart($id: ID!, $lines: Int!) { cart(id: $id) { ${CART_FIELDS} } }`;
// The mutations answer with the cart's id only: the document cache then refetches every query
// holding a Cart (this page's, the header's count), which asks for the lines it needs.
const payload = `cart { id } userErrors { field message code }`;
const UPDATE = `mutation($cartId: ID!, $changes: [CartLineInput!]!) { cartLinesUpdate(cartId: $cartId, lines: $changes) { ${payload} } }`;
const REMOVE = `mutation($cartId: ID!, $ids: [ID!]!) { cartLinesRemove(cartId: $cartId, variantIds: $ids) { ${payload} } }`;
const APPLY = `mutation($cartId: ID!, $code: String!) { cartDiscountCodeApply(cartId: $cartId, code: $code) { ${payload} } }`;
const UNAPPLY = `mutation($cartId: ID!) { cartDiscountCodeRemove(cartId: $cartId) { ${payload} } }`;

const AVAILABILITY = {
  AVAILABLE: null,
  INSUFFICIENT_STOCK: "Not enough in stock",
  OUT_OF_STOCK: "Sold out",
  UNAVAILABLE: "No longer sold: remove it",
};

/** The totals table, shared with checkout and orders. */
export function Totals({ totals, discountCode }) {
  return (
    <table class="totals">
      <tbody>
        <tr><th>Subtotal</th><td><Money value={totals.subtotal} /></td></tr>
        {Number(totals.discount.amount) > 0 && (
          <tr><th>Discount{discountCode ? ` (${discountCode})` : ""}</th><td>−<Money value={totals.discount} /></td></tr>
        )}
        <tr><th>Shipping</th><td>{Number(totals.shipping.amount) ? <Money value={totals.shipping} /> : "Free"}</td></tr>
        <tr><th>Tax</th><td><Money value={totals.tax} /></td></tr>
        <tr class="total"><th>Total</th><td><Money value={totals.total} /></td></tr>
      </tbody>
    </table>
  );
}

/** The answer of the last cart mutation: its user errors or its error. */
function useCartMutation(query) {
  const [result, run] = useMutation(query);
  const userErrors = result.data ? Object.values(result.data)[0].userErrors : [];
  return [{ error: result.error, userErrors, fetching: result.fetching }, run];
}

function Line({ cartId, line, update, remove }) {
  const problem = AVAILABILITY[line.availability];
  const variantId = line.variant?.id;
  return (
    <tr>
      <td>
        {line.variant ? <Link href={`/p/${line.variant.product.slug}`}>{line.productName}</Link> : line.productName}
        <div class="muted">{line.variant?.title} · {line.sku}</div>
        {problem && <div class="warning">{problem}{line.quantityAvailable != null && ` (${line.quantityAvailable} left)`}</div>}
      </td>
      <td><Money value={line.unitPrice} /></td>
      <td>
        {variantId ? (
          <input type="number" min="0" max="99" value={line.quantity} aria-label={`Quantity of ${line.productName}`}
            onChange={(e) => {
              const quantity = e.currentTarget.valueAsNumber;
              if (Number.isInteger(quantity)) update({ cartId, changes: [{ variantId, quantity }] });
            }} />
        ) : (
          line.quantity
        )}
      </td>
      <td><Money value={line.lineTotal} /></td>
      <td>{variantId && <button type="button" class="link" onClick={() => remove({ cartId, ids: [variantId] })}>Remove</button>}</td>
    </tr>
  );
}

function DiscountCode({ cart }) {
  const [code, setCode] = useState("");
  const [applied, apply] = useCartMutation(APPLY);
  const [removed, unapply] = useCartMutation(UNAPPLY);
  const submit = (event) => {
    event.preventDefault();
    if (code.trim()) apply({ cartId: cart.id, code: code.trim() });
  };
  return (
    <div class="discount">
      {cart.discountCode ? (
        <p>
          Code <strong>{cart.discountCode}</strong>{" "}
          <button type="button" class="link" onClick={() => unapply({ cartId: cart.id })}>Remove</button>
          {cart.discountProblem && <span class="warning"> {cart.discountProblem}</span>}
        </p>
      ) : (
        <form onSubmit={submit}>
          <label>
            Discount code{" "}
            <input name="code" value={code} onInput={(e) => setCode(e.currentTarget.value)} maxLength={64} />
          </label>{" "}
          <button type="submit" disabled={applied.fetching}>Apply</button>
        </form>
      )}
      <Errors error={applied.error ?? removed.error} userErrors={[...applied.userErrors, ...removed.userErrors]} />
    </div>
  );
}

export function CartPage() {
  const { cartId } = useStore();
  const size = useCartSize(cartId, "cache-and-network");
  const [{ data, error, fetching }] = useQuery({
    query: CART,
    variables: { id: cartId, lines: size.lines },
    pause: !cartId || size.units === null,
    requestPolicy: "cache-and-network",
  });
  const [updated, update] = useCartMutation(UPDATE);
  const [removed, remove] = useCartMutation(REMOVE);
  if (!cartId) return <EmptyCart />;
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  const cart = data.cart;
  if (!cart || cart.completed || cart.lines.length === 0) return <EmptyCart />;
  return (
    <>
      <h1>Your cart</h1>
      <table class="lines">
        <thead>
          <tr><th>Product</th><th>Price</th><th>Quantity</th><th>Total</th><th /></tr>
        </thead>
        <tbody>
          {cart.lines.map((line) => (
            <Line key={line.sku} cartId={cart.id} line={line} update={update} remove={remove} />
          ))}
        </tbody>
      </table>
      <Errors error={updated.error ?? removed.error} userErrors={[...updated.userErrors, ...removed.userErrors]} />
      <DiscountCode cart={cart} />
      <Totals totals={cart.totals} discountCode={cart.discountCode} />
      <p class="actions">
        <Link href="/">Continue shopping</Link>{" "}
        {cart.readyForCheckout ? (
          <Link href="/checkout" class="button">Check out</Link>
        ) : (
          <span class="warning">Fix the lines above to check out.</span>
        )}
      </p>
    </>
  );
}

function EmptyCart() {
  return (
    <>
      <h1>Your cart</h1>
      <p>Your cart is empty. <Link href="/">Start shopping</Link></p>
    </>
  );
}
