// Checkout: contact email, shipping address (from the address book when signed in), the
// shipping the server prices, and payment through the test gateway. Guests check out too:
// their order page is opened with the order's access token.
import { useMemo, useState } from "preact/hooks";
import { useClient, useQuery } from "@urql/preact";
import { Errors, Loading, Money } from "../components.jsx";
import { Link, navigate } from "../router.jsx";
import { newKey, setState, useStore } from "../store.js";
import { useCartSize } from "../cart.js";
import { TOTALS, Totals } from "./cart.jsx";

const ADDRESS_FIELDS = "firstName lastName company line1 line2 city region postalCode countryCode phone";
const CHECKOUT = `
  query Checkout($cartId: ID!, $lines: Int!) {
    cart(id: $cartId) {
      id itemCount readyForCheckout completed discountCode
      lines(first: $lines) { quantity productName sku lineTotal { amount currencyCode } }
      ${TOTALS}
    }
    me { id email firstName lastName addresses { id isDefault ${ADDRESS_FIELDS} } }
  }
`;
const COMPLETE = `
  mutation Checkout($input: CheckoutInput!) {
    checkoutComplete(input: $input) {
      order { id number status }
      orderAccessToken
      userErrors { field message code }
    }
  }
`;
const ADDRESS_ADD = `
  mutation($input: AddressInput!) { addressAdd(input: $input) { address { id } userErrors { field message code } } }
`;
export const PAY = `
  mutation Pay($id: ID!, $paymentToken: String!, $idempotencyKey: String!, $accessToken: String) {
    orderPay(id: $id, paymentToken: $paymentToken, idempotencyKey: $idempotencyKey, accessToken: $accessToken) {
      order { id status }
      payment { status message }
      userErrors { field message code }
    }
  }
`;

/** The test gateway's payment tokens, as a card form would produce them. */
export const TEST_CARDS = [
  ["tok_success", "Test card that pays"],
  ["tok_decline", "Test card that is declined"],
];

const EMPTY_ADDRESS = {
  firstName: "", lastName: "", company: "", line1: "", line2: "", city: "", region: "", postalCode: "",
  countryCode: "US", phone: "",
};
const COUNTRIES = [["US", "United States"], ["CA", "Canada"], ["GB", "United Kingdom"], ["DE", "Germany"], ["FR", "France"]];

const addressInput = (address) =>
  Object.fromEntries(Object.keys(EMPTY_ADDRESS).map((name) => [name, address[name] ?? ""]));

function AddressForm({ address, set }) {
  const field = (name, label, rest = {}) => (
    <label class="field">
      {label}
      <input name={name} value={address[name]} onInput={(e) => set({ ...address, [name]: e.currentTarget.value })} {...rest} />
    </label>
  );
  return (
    <div class="address">
      {field("firstName", "First name", { required: true, autoComplete: "given-name" })}
      {field("lastName", "Last name", { required: true, autoComplete: "family-name" })}
      {field("line1", "Address", { required: true, autoComplete: "address-line1" })}
      {field("line2", "Apartment, suite (optional)", { autoComplete: "address-line2" })}
      {field("city", "City", { required: true, autoComplete: "address-level2" })}
      {field("region", "State or region", { autoComplete: "address-level1" })}
      {field("postalCode", "Postal code", { autoComplete: "postal-code" })}
      <label class="field">
        Country
        <select name="countryCode" value={address.countryCode} onChange={(e) => set({ ...address, countryCode: e.currentTarget.value })}>
          {COUNTRIES.map(([code, name]) => <option key={code} value={code}>{name}</option>)}
        </select>
      </label>
      {field("phone", "Phone (optional)", { type: "tel", autoComplete: "tel" })}
    </div>
  );
}

function CheckoutForm({ cart, me }) {
  const client = useClient();
  const saved = me?.addresses ?? [];
  const initial = saved.find((a) => a.isDefault) ?? saved[0];
  const [email, setEmail] = useState(me?.email ?? "");
  const [addressId, setAddressId] = useState(initial?.id ?? "new");
  const [address, setAddress] = useState(initial ? addressInput(initial) : { ...EMPTY_ADDRESS, firstName: me?.firstName ?? "", lastName: me?.lastName ?? "" });
  const [save, setSave] = useState(saved.length === 0);
  // Set once the new address is in the address book, so that a retry does not add it again.
  const [savedAddress, setSavedAddress] = useState(false);
  const [card, setCard] = useState(TEST_CARDS[0][0]);
  const [state, setStatus] = useState({ busy: false, error: null, userErrors: [] });
  // One key per checkout of this cart: a retry after a lost answer gets the same order back.
  const checkoutKey = useMemo(() => newKey(), [cart.id]);

  const pick = (id) => {
    setAddressId(id);
    const found = saved.find((a) => a.id === id);
    setAddress(found ? addressInput(found) : { ...EMPTY_ADDRESS });
  };

  const submit = async (event) => {
    event.preventDefault();
    setStatus({ busy: true, error: null, userErrors: [] });
    const fail = (error, userErrors = []) => setStatus({ busy: false, error, userErrors });
    if (me && addressId === "new" && save && !savedAddress) {
      const added = await client.mutation(ADDRESS_ADD, { input: address }).toPromise();
      if (added.error || added.data.addressAdd.userErrors.length) return fail(added.error, added.data?.addressAdd.userErrors);
      setSavedAddress(true);
    }
    const input = { cartId: cart.id, email, shippingAddress: address, idempotencyKey: checkoutKey };
    const placed = await client.mutation(COMPLETE, { input }).toPromise();
    const payload = placed.data?.checkoutComplete;
    if (!payload?.order) return fail(placed.error, payload?.userErrors);
    setState({ cartId: null });
    const accessToken = payload.orderAccessToken;
    // The order page shows how the payment went; a declined card can be retried there.
    await client.mutation(PAY, { id: payload.order.id, paymentToken: card, idempotencyKey: newKey(), accessToken }).toPromise();
    navigate(me ? `/account/orders/${encodeURIComponent(payload.order.id)}` : `/orders/status?token=${encodeURIComponent(accessToken)}`);
  };

  return (
    <form class="checkout" onSubmit={submit}>
      <section>
        <h2>Contact</h2>
        {me ? (
          <p class="muted">Signed in as {me.email}.</p>
        ) : (
          <p class="muted">
            Checking out as a guest. <Link href="/sign-in?next=/checkout">Sign in</Link> to keep your orders in your account.
          </p>
        )}
        <label class="field">
          Email for the confirmation
          <input name="email" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} autoComplete="email" />
        </label>
      </section>
      <section>
        <h2>Shipping address</h2>
        {saved.length > 0 && (
          <label class="field">
            Address book
            <select name="savedAddress" value={addressId} onChange={(e) => pick(e.currentTarget.value)}>
              {saved.map((a) => <option key={a.id} value={a.id}>{a.firstName} {a.lastName}, {a.line1}, {a.city}</option>)}
              <option value="new">A new address</option>
            </select>
          </label>
        )}
        <AddressForm address={address} set={setAddress} />
        {me && addressId === "new" && (
          <label class="check">
            <input type="checkbox" checked={save} onChange={(e) => setSave(e.currentTarget.checked)} /> Save it in my address book
          </label>
        )}
      </section>
      <section>
        <h2>Shipping</h2>
        <p>
          Standard delivery:{" "}
          {Number(cart.totals.shipping.amount) ? <Money value={cart.totals.shipping} /> : "free"}
        </p>
      </section>
      <section>
        <h2>Payment</h2>
        <p class="muted">This shop takes test payments only: no money moves.</p>
        {TEST_CARDS.map(([token, label]) => (
          <label key={token} class="check">
            <input type="radio" name="card" value={token} checked={card === token} onChange={() => setCard(token)} /> {label}
          </label>
        ))}
      </section>
      <Errors error={state.error} userErrors={state.userErrors} />
      <button type="submit" class="primary" disabled={state.busy}>
        {state.busy ? "Placing your order…" : <>Place order and pay <Money value={cart.totals.total} /></>}
      </button>
    </form>
  );
}

export function CheckoutPage() {
  const { cartId } = useStore();
  const size = useCartSize(cartId, "cache-and-network");
  const [{ data, error, fetching }] = useQuery({
    query: CHECKOUT,
    variables: { cartId, lines: size.lines },
    pause: !cartId || size.units === null,
    requestPolicy: "network-only",
  });
  if (!cartId) return <p>Your cart is empty. <Link href="/">Start shopping</Link></p>;
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  const cart = data.cart;
  if (!cart || cart.completed || !cart.itemCount) return <p>Your cart is empty. <Link href="/">Start shopping</Link></p>;
  if (!cart.readyForCheckout) return <p>Some lines cannot be bought as they stand. <Link href="/cart">Back to the cart</Link></p>;
  return (
    <div class="checkout-page">
      <div>
        <h1>Checkout</h1>
        <CheckoutForm cart={cart} me={data.me} />
      </div>
      <aside class="summary">
        <h2>Your order</h2>
        <ul>
          {cart.lines.map((line) => (
            <li key={line.sku}>{line.quantity} × {line.productName} <Money value={line.lineTotal} /></li>
          ))}
        </ul>
        <Totals totals={cart.totals} discountCode={cart.discountCode} />
      </aside>
    </div>
  );
}
