// The signed-in customer's account: who they are, their orders (newest first, a page at a
// time) and signing out.
import { useMutation, useQuery } from "@urql/preact";
import { Errors, Loading, Money, Pager, pageVariables } from "../components.jsx";
import { Link, navigate } from "../router.jsx";
import { setState, useStore } from "../store.js";
import { STATUS } from "./order.jsx";

const PAGE_SIZE = 10;
const ACCOUNT = `
  query Account($first: Int, $after: String, $last: Int, $before: String) {
    me { id email firstName lastName emailVerified }
    orders(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id number status createdAt totals { total { amount currencyCode } } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;
const LOGOUT = `mutation { logout { endedSessions } }`;

export function AccountPage({ params }) {
  const { token } = useStore();
  const [{ data, error, fetching }] = useQuery({
    query: ACCOUNT,
    variables: pageVariables(params, PAGE_SIZE),
    pause: !token,
    requestPolicy: "cache-and-network",
  });
  const [, logout] = useMutation(LOGOUT);
  if (!token) return <p>You are not signed in. <Link href="/sign-in?next=/account">Sign in</Link></p>;
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  if (!data.me) return <p>Your session has ended. <Link href="/sign-in?next=/account">Sign in again</Link></p>;
  const signOut = async () => {
    await logout({});
    setState({ token: null, cartId: null });
    navigate("/");
  };
  const orders = data.orders.edges.map((edge) => edge.node);
  return (
    <>
      <h1>Your account</h1>
      <p>
        {[data.me.firstName, data.me.lastName].filter(Boolean).join(" ") || data.me.email} · {data.me.email}{" "}
        <button type="button" class="link" onClick={signOut}>Sign out</button>
      </p>
      <h2>Your orders</h2>
      {orders.length ? (
        <table class="orders">
          <thead><tr><th>Order</th><th>Placed</th><th>Status</th><th>Total</th></tr></thead>
          <tbody>
            {orders.map((order) => (
              <tr key={order.id} data-order={order.number}>
                <td><Link href={`/account/orders/${encodeURIComponent(order.id)}`}>{order.number}</Link></td>
                <td>{new Date(order.createdAt).toLocaleDateString()}</td>
                <td>{STATUS[order.status]}</td>
                <td><Money value={order.totals.total} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No orders yet.</p>
      )}
      <Pager path="/account" params={params} pageInfo={data.orders.pageInfo} />
    </>
  );
}
