// A category: its subcategories and its products (with those of its subcategories), a page
// at a time, in the order the shopper picks.
import { useQuery } from "@urql/preact";
import { Errors, Loading, PRODUCT_CARD, Pager, ProductGrid, pageVariables } from "../components.jsx";
import { Link, navigate, withParams } from "../router.jsx";

const PAGE_SIZE = 12;

export const SORTS = {
  name: { label: "Name", sortBy: { field: "NAME", direction: "ASC" } },
  "price-asc": { label: "Price, low to high", sortBy: { field: "PRICE", direction: "ASC" } },
  "price-desc": { label: "Price, high to low", sortBy: { field: "PRICE", direction: "DESC" } },
  newest: { label: "Newest", sortBy: { field: "CREATED_AT", direction: "DESC" } },
};

const CATEGORY = `
  query Category($slug: String!, $first: Int, $after: String, $last: Int, $before: String, $sortBy: ProductSortBy) {
    category(slug: $slug) {
      id name slug
      parent { id name slug }
      children(first: 20) { id name slug }
      products(first: $first, after: $after, last: $last, before: $before, sortBy: $sortBy) {
        edges { cursor node { ${PRODUCT_CARD} } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

/** A select of sort orders; changing it starts again at the first page. */
export function SortSelect({ path, params }) {
  const change = (event) => navigate(withParams(path, { ...params, sort: event.currentTarget.value, after: null, before: null }));
  return (
    <label class="sort">
      Sort by{" "}
      <select value={params.sort ?? "name"} onChange={change}>
        {Object.entries(SORTS).map(([value, { label }]) => (
          <option key={value} value={value}>{label}</option>
        ))}
      </select>
    </label>
  );
}

export function CategoryPage({ slug, params }) {
  const sortBy = (SORTS[params.sort] ?? SORTS.name).sortBy;
  const [{ data, error, fetching }] = useQuery({
    query: CATEGORY,
    variables: { slug, sortBy, ...pageVariables(params, PAGE_SIZE) },
  });
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  const category = data.category;
  if (!category) return <p>There is no such category. <Link href="/">Back to the shop</Link></p>;
  const path = `/c/${category.slug}`;
  return (
    <>
      <p class="crumbs">
        <Link href="/">Home</Link>
        {category.parent && <> / <Link href={`/c/${category.parent.slug}`}>{category.parent.name}</Link></>}
      </p>
      <h1>{category.name}</h1>
      {category.children.length > 0 && (
        <ul class="chips">
          {category.children.map((child) => (
            <li key={child.id}><Link href={`/c/${child.slug}`}>{child.name}</Link></li>
          ))}
        </ul>
      )}
      <SortSelect path={path} params={params} />
      <ProductGrid products={category.products.edges.map((edge) => edge.node)} busy={fetching} />
      <Pager path={path} params={params} pageInfo={category.products.pageInfo} />
    </>
  );
}
