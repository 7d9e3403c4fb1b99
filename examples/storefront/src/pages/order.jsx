// An order: the confirmation after checkout, a guest's order page (opened with the order's
// access token, as the confirmation mail links it) and an order from the account's history.
// An unpaid order can be paid (again, after a declined card) or cancelled here.
import { useState } from "preact/hooks";
import { useClient, useMutation, useQuery } from "@urql/preact";
import { Errors, Loading, Money } from "../components.jsx";
import { Link } from "../router.jsx";
import { newKey } from "../store.js";
import { TOTALS, Totals } from "./cart.jsx";
import { PAY, TEST_CARDS } from "./checkout.jsx";

// An order has up to 50 lines, 25 payments and 14 events, and each list is priced at its
// most: the fields are few to keep the page well inside the cost budget.
const ORDER_FIELDS = `
  id number status email createdAt discountCode
  shippingAddress { firstName lastName company line1 line2 city region postalCode countryCode }
  lines { quantity productName variantTitle sku lineTotal { amount currencyCode } }
  ${TOTALS}
  payments { kind status message }
  events { type note createdAt }
`;
const BY_TOKEN = `query OrderByToken($token: String!) { orderByToken(token: $token) { ${ORDER_FIELDS} } }`;
const BY_ID = `query Order($id: ID!) { node(id: $id) { ... on Order { ${ORDER_FIELDS} } } }`;
const CANCEL = `
  mutation Cancel($id: ID!, $accessToken: String) {
    orderCancel(id: $id, accessToken: $accessToken) { order { id status } userErrors { field message code } }
  }
`;

export const STATUS = {
  PENDING_PAYMENT: "Waiting for payment",
  PAID: "Paid",
  FULFILLED: "Shipped",
  CANCELLED: "Cancelled",
  REFUNDED: "Refunded",
};

function PayForm({ order, accessToken }) {
  const client = useClient();
  const [card, setCard] = useState(TEST_CARDS[0][0]);
  // Resent while the last attempt is pending (its outcome unknown); a new one after a refusal.
  const [key, setKey] = useState(newKey);
  const [state, setState] = useState({ busy: false, error: null, userErrors: [] });
  const submit = async (event) => {
    event.preventDefault();
    setState({ busy: true, error: null, userErrors: [] });
    const result = await client.mutation(PAY, { id: order.id, paymentToken: card, idempotencyKey: key, accessToken }).toPromise();
    const payload = result.data?.orderPay;
    if (payload?.payment?.status !== "PENDING") setKey(newKey());
    setState({ busy: false, error: result.error, userErrors: payload?.userErrors ?? [] });
  };
  return (
    <form class="pay" onSubmit={submit}>
      <h2>Pay for this order</h2>
      {TEST_CARDS.map(([token, label]) => (
        <label key={token} class="check">
          <input type="radio" name="card" value={token} checked={card === token} onChange={() => setCard(token)} /> {label}
        </label>
      ))}
      <Errors error={state.error} userErrors={state.userErrors} />
      <button type="submit" class="primary" disabled={state.busy}>Pay <Money value={order.totals.total} /></button>
    </form>
  );
}

function Address({ address }) {
  const parts = [
    `${address.firstName ?? ""} ${address.lastName ?? ""}`.trim(),
    address.company, address.line1, address.line2,
    [address.postalCode, address.city].filter(Boolean).join(" "), address.region, address.countryCode,
  ];
  return <address>{parts.filter(Boolean).map((part) => <div key={part}>{part}</div>)}</address>;
}

export function OrderPage({ id, accessToken }) {
  const [{ data, error, fetching }] = useQuery({
    ...(accessToken ? { query: BY_TOKEN, variables: { token: accessToken } } : { query: BY_ID, variables: { id } }),
    requestPolicy: "cache-and-network",
  });
  const [cancelled, cancel] = useMutation(CANCEL);
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  const order = accessToken ? data.orderByToken : data.node;
  if (!order?.number) return <p>There is no such order, or it is not yours. <Link href="/">Back to the shop</Link></p>;
  const lastCharge = order.payments.filter((p) => p.kind === "CHARGE").at(-1);
  return (
    <article class="order">
      <h1>Order {order.number}</h1>
      <p class={`status ${order.status.toLowerCase()}`} data-status={order.status}>
        {order.status === "PAID" ? "Thank you! Your order is paid." : STATUS[order.status]}
      </p>
      <p class="muted">
        Placed {new Date(order.createdAt).toLocaleString()} · confirmation sent to {order.email}
      </p>
      {order.status === "PENDING_PAYMENT" && lastCharge && lastCharge.status !== "SUCCEEDED" && (
        <p class="warning">
          Payment {lastCharge.status.toLowerCase()}{lastCharge.message ? `: ${lastCharge.message}` : ""}
        </p>
      )}
      <table class="lines">
        <thead><tr><th>Product</th><th>Quantity</th><th>Total</th></tr></thead>
        <tbody>
          {order.lines.map((line) => (
            <tr key={line.sku}>
              <td>{line.productName}<div class="muted">{line.variantTitle} · {line.sku}</div></td>
              <td>{line.quantity}</td>
              <td><Money value={line.lineTotal} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Totals totals={order.totals} discountCode={order.discountCode} />
      <h2>Shipping to</h2>
      <Address address={order.shippingAddress} />
      {order.status === "PENDING_PAYMENT" && (
        <>
          <PayForm order={order} accessToken={accessToken} />
          <p>
            <button type="button" class="link" disabled={cancelled.fetching}
              onClick={() => cancel({ id: order.id, accessToken })}>Cancel this order</button>
          </p>
          <Errors error={cancelled.error} userErrors={cancelled.data?.orderCancel.userErrors} />
        </>
      )}
      <h2>History</h2>
      <ul class="events">
        {order.events.map((event) => (
          <li key={event.createdAt + event.type}>
            {new Date(event.createdAt).toLocaleString()}: {event.type.toLowerCase().replace("_", " ")}
            {event.note && ` (${event.note})`}
          </li>
        ))}
      </ul>
      <p>{accessToken ? <Link href="/">Back to the shop</Link> : <Link href="/account">All your orders</Link>}</p>
    </article>
  );
}
