// A product: images, description, the variant picked by its options, price, stock and the
// quantity to add to the cart.
import { useState } from "preact/hooks";
import { useClient, useQuery } from "@urql/preact";
import { Errors, Loading, Money, ProductImage } from "../components.jsx";
import { addToCart } from "../cart.js";
import { Link } from "../router.jsx";

// A product has at most 100 variants, but asking for all of them with prices and options
// would cost more than a caller's whole budget (about 1,800 of 1,000 points): 20 is plenty for
// the demo shop and costs about 400.
const PRODUCT = `
  query Product($slug: String!) {
    product(slug: $slug) {
      id name description
      category { id name slug }
      images(first: 6) { url altText }
      rating { average count }
      variants(first: 20) {
        id sku title inStock lowStock
        selectedOptions { name value }
        price { amount currencyCode }
        compareAtPrice { amount currencyCode }
      }
    }
  }
`;

/** The option names of the variants, each with its values in order of appearance. */
function optionsOf(variants) {
  const options = new Map();
  for (const variant of variants) {
    for (const { name, value } of variant.selectedOptions) {
      if (!options.has(name)) options.set(name, []);
      if (!options.get(name).includes(value)) options.get(name).push(value);
    }
  }
  return [...options];
}

const matches = (variant, chosen) =>
  variant.selectedOptions.every(({ name, value }) => chosen[name] === value);

const optionsOfVariant = (variant) =>
  Object.fromEntries(variant.selectedOptions.map(({ name, value }) => [name, value]));

function Buy({ product }) {
  const client = useClient();
  const first = product.variants.find((v) => v.inStock) ?? product.variants[0];
  const [chosen, setChosen] = useState(() => optionsOfVariant(first));
  const [variantId, setVariantId] = useState(first.id);
  const [quantity, setQuantity] = useState(1);
  const [state, setState] = useState({ busy: false, added: false, userErrors: [], error: null });
  const options = optionsOf(product.variants);
  const variant = options.length
    ? product.variants.find((v) => matches(v, chosen))
    : product.variants.find((v) => v.id === variantId);

  const add = async (event) => {
    event.preventDefault();
    setState({ busy: true, added: false, userErrors: [], error: null });
    try {
      const userErrors = await addToCart(client, variant.id, quantity);
      setState({ busy: false, added: userErrors.length === 0, userErrors, error: null });
    } catch (error) {
      setState({ busy: false, added: false, userErrors: [], error });
    }
  };

  return (
    <form class="buy" onSubmit={add}>
      {options.map(([name, values]) => (
        <fieldset key={name}>
          <legend>{name}</legend>
          {values.map((value) => (
            <label key={value} class="option">
              <input type="radio" name={name} value={value} checked={chosen[name] === value}
                onChange={() => setChosen({ ...chosen, [name]: value })} />
              {value}
            </label>
          ))}
        </fieldset>
      ))}
      {!options.length && product.variants.length > 1 && (
        <fieldset>
          <legend>Variant</legend>
          {product.variants.map((v) => (
            <label key={v.id} class="option">
              <input type="radio" name="variant" checked={v.id === variantId} onChange={() => setVariantId(v.id)} />
              {v.title}
            </label>
          ))}
        </fieldset>
      )}
      {variant ? (
        <>
          <p class="price">
            <Money value={variant.price} />{" "}
            {variant.compareAtPrice && <s class="muted"><Money value={variant.compareAtPrice} /></s>}
          </p>
          <p class="stock">
            {!variant.inStock ? "Sold out" : variant.lowStock ? `Only ${variant.lowStock} left` : "In stock"}
            <span class="muted"> · SKU {variant.sku}</span>
          </p>
          <label>
            Quantity{" "}
            <input type="number" name="quantity" min="1" max="99" value={quantity} required
              onInput={(e) => setQuantity(Number(e.currentTarget.value))} />
          </label>{" "}
          <button type="submit" disabled={!variant.inStock || state.busy}>
            {state.busy ? "Adding…" : "Add to cart"}
          </button>
        </>
      ) : (
        <p class="muted">This combination is not sold.</p>
      )}
      {state.added && (
        <p class="notice" role="status">
          Added to your cart. <Link href="/cart">View cart</Link>
        </p>
      )}
      <Errors error={state.error} userErrors={state.userErrors} />
    </form>
  );
}

export function ProductPage({ slug }) {
  const [{ data, error, fetching }] = useQuery({ query: PRODUCT, variables: { slug } });
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  const product = data.product;
  if (!product) return <p>There is no such product. <Link href="/">Back to the shop</Link></p>;
  return (
    <article class="product">
      <div class="gallery">
        <ProductImage image={product.images[0]} name={product.name} size="large" />
      </div>
      <div>
        {product.category && (
          <p class="crumbs">
            <Link href={`/c/${product.category.slug}`}>{product.category.name}</Link>
          </p>
        )}
        <h1>{product.name}</h1>
        {product.rating.count > 0 && (
          <p class="muted">★ {product.rating.average?.toFixed(1)} ({product.rating.count} reviews)</p>
        )}
        {product.variants.length ? <Buy key={product.id} product={product} /> : <p>Not on sale.</p>}
        <p class="description">{product.description}</p>
      </div>
    </article>
  );
}
