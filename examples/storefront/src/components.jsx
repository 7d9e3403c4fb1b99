// Small pieces the pages share: money, errors, product cards, pagers, images.
import { Link, withParams } from "./router.jsx";

/** Money as the server sent it (`amount` is a decimal string: no float arithmetic here). */
export function Money({ value }) {
  if (!value) return null;
  const amount = Number(value.amount);
  const text = new Intl.NumberFormat("en", { style: "currency", currency: value.currencyCode }).format(amount);
  return <span class="money">{text}</span>;
}

/** A request's error, or a mutation's user errors, for people. */
export function Errors({ error, userErrors }) {
  const messages = [];
  if (error) {
    if (error.networkError) messages.push(`The shop cannot be reached (${error.networkError.message}).`);
    for (const e of error.graphQLErrors ?? []) {
      const code = e.extensions?.code;
      if (code === "THROTTLED" || code === "RATE_LIMITED") {
        messages.push(`Too many requests: try again in ${Math.ceil(e.extensions.retryAfter ?? 1)} s.`);
      } else {
        messages.push(e.message);
      }
    }
  }
  for (const e of userErrors ?? []) messages.push(e.message);
  if (!messages.length) return null;
  return (
    <ul class="errors" role="alert">
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

/** `.example` hosts are reserved (RFC 2606) and never resolve: the demo shop's images are there. */
const loadable = (url) => {
  try {
    return !new URL(url).hostname.endsWith(".example");
  } catch {
    return false;
  }
};

/** A product image, or a placeholder with the product's initial when it cannot load. */
export function ProductImage({ image, name, size = "small" }) {
  if (image && loadable(image.url)) {
    return <img class={`image ${size}`} src={image.url} alt={image.altText || name} loading="lazy" />;
  }
  const hue = [...name].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360;
  return (
    <div class={`image ${size} placeholder`} style={{ "--hue": hue }} aria-hidden="true">
      {name.slice(0, 1)}
    </div>
  );
}

/** What a product list asks for each product. */
export const PRODUCT_CARD = `
  id name slug
  priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount currencyCode } }
  images(first: 1) { url altText }
`;

export function PriceRange({ range }) {
  const { minVariantPrice: min, maxVariantPrice: max } = range;
  if (min.amount === max.amount) return <Money value={min} />;
  return (
    <span>
      from <Money value={min} />
    </span>
  );
}

export function ProductGrid({ products, busy = false }) {
  if (!products.length) return <p class="muted">No products here.</p>;
  return (
    <ul class={busy ? "grid busy" : "grid"}>
      {products.map((product) => (
        <li key={product.id} class="card">
          <Link href={`/p/${product.slug}`}>
            <ProductImage image={product.images[0]} name={product.name} />
            <span class="name">{product.name}</span>
          </Link>
          <PriceRange range={product.priceRange} />
        </li>
      ))}
    </ul>
  );
}

/**
 * Previous and next links of a Relay connection: the page is in the URL (`after` or
 * `before` a cursor), so it survives a reload and the back button.
 */
export function Pager({ path, params, pageInfo }) {
  const backwards = Boolean(params.before);
  const hasPrevious = backwards ? pageInfo.hasPreviousPage : Boolean(params.after);
  const hasNext = backwards ? true : pageInfo.hasNextPage;
  return (
    <nav class="pager" aria-label="Pages">
      {hasPrevious && pageInfo.startCursor ? (
        <Link href={withParams(path, { ...params, after: null, before: pageInfo.startCursor })} rel="prev">
          ← Previous
        </Link>
      ) : (
        <span />
      )}
      {hasNext && pageInfo.endCursor ? (
        <Link href={withParams(path, { ...params, before: null, after: pageInfo.endCursor })} rel="next">
          Next →
        </Link>
      ) : (
        <span />
      )}
    </nav>
  );
}

/** The variables of a page of `size` from the URL's `after` or `before`. */
export function pageVariables(params, size) {
  return params.before
    ? { last: size, before: params.before, first: null, after: null }
    : { first: size, after: params.after ?? null, last: null, before: null };
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}
