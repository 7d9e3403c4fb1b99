// The layout (header with search, cart and account links) and the table of pages.
import { useState } from "preact/hooks";
import { Link, navigate, useLocation } from "./router.jsx";
import { useStore } from "./store.js";
import { useCartSize } from "./cart.js";
import { Home } from "./pages/home.jsx";
import { CategoryPage } from "./pages/category.jsx";
import { SearchPage } from "./pages/search.jsx";
import { ProductPage } from "./pages/product.jsx";
import { CartPage } from "./pages/cart.jsx";
import { SignIn, SignUp, ConfirmSignUp, ForgotPassword, ResetPassword } from "./pages/auth.jsx";
import { CheckoutPage } from "./pages/checkout.jsx";
import { OrderPage } from "./pages/order.jsx";
import { AccountPage } from "./pages/account.jsx";

const ROUTES = [
  [/^\/$/, () => <Home />],
  [/^\/c\/([^/]+)$/, ([slug], params) => <CategoryPage slug={slug} params={params} />],
  [/^\/search$/, (_, params) => <SearchPage params={params} />],
  [/^\/p\/([^/]+)$/, ([slug]) => <ProductPage slug={slug} />],
  [/^\/cart$/, () => <CartPage />],
  [/^\/checkout$/, () => <CheckoutPage />],
  [/^\/sign-in$/, (_, params) => <SignIn next={params.next} />],
  [/^\/sign-up$/, (_, params) => <SignUp next={params.next} />],
  [/^\/confirm-sign-up$/, (_, params) => <ConfirmSignUp token={params.token} />],
  [/^\/forgot-password$/, () => <ForgotPassword />],
  [/^\/reset-password$/, (_, params) => <ResetPassword token={params.token} />],
  [/^\/orders\/status$/, (_, params) => <OrderPage accessToken={params.token} />],
  [/^\/account$/, (_, params) => <AccountPage params={params} />],
  [/^\/account\/orders\/([^/]+)$/, ([id]) => <OrderPage id={id} />],
];

function Page() {
  const { path, params } = useLocation();
  const query = Object.fromEntries(params);
  for (const [pattern, page] of ROUTES) {
    const match = path.match(pattern);
    if (match) return page(match.slice(1).map(decodeURIComponent), query);
  }
  return <p>There is no such page. <Link href="/">Back to the shop</Link></p>;
}

function CartLink() {
  const { cartId } = useStore();
  const { units } = useCartSize(cartId);
  return (
    <Link href="/cart" class="cart-link">
      Cart ({cartId ? units ?? 0 : 0})
    </Link>
  );
}

function SearchBox() {
  const { params } = useLocation();
  const [text, setText] = useState(params.get("q") ?? "");
  const submit = (event) => {
    event.preventDefault();
    if (text.trim()) navigate(`/search?q=${encodeURIComponent(text.trim())}`);
  };
  return (
    <form class="search" role="search" onSubmit={submit}>
      <input type="search" name="q" placeholder="Search products" aria-label="Search products"
        value={text} onInput={(e) => setText(e.currentTarget.value)} maxLength={100} />
      <button type="submit">Search</button>
    </form>
  );
}

export function App() {
  const { token } = useStore();
  return (
    <>
      <header class="top">
        <Link href="/" class="brand">Bazaar</Link>
        <SearchBox />
        <nav>
          {token ? <Link href="/account">Account</Link> : <Link href="/sign-in">Sign in</Link>}
          <CartLink />
        </nav>
      </header>
      <main>
        <Page />
      </main>
      <footer>A demo storefront on Bazaar's GraphQL API. Payments go through the test gateway.</footer>
    </>
  );
}
