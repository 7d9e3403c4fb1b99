// Search: products whose name, description or SKUs hold the words, a page at a time.
import { useQuery } from "@urql/preact";
import { Errors, Loading, PRODUCT_CARD, Pager, ProductGrid, pageVariables } from "../components.jsx";
import { SORTS, SortSelect } from "./category.jsx";

const PAGE_SIZE = 12;

const SEARCH = `
  query Search($where: ProductWhere, $first: Int, $after: String, $last: Int, $before: String, $sortBy: ProductSortBy) {
    products(where: $where, first: $first, after: $after, last: $last, before: $before, sortBy: $sortBy) {
      edges { cursor node { ${PRODUCT_CARD} } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

export function SearchPage({ params }) {
  const words = (params.q ?? "").trim();
  const sortBy = (SORTS[params.sort] ?? SORTS.name).sortBy;
  const [{ data, error, fetching }] = useQuery({
    query: SEARCH,
    variables: { where: { search: words }, sortBy, ...pageVariables(params, PAGE_SIZE) },
    pause: !words,
  });
  if (!words) return <p>Type a few words in the search box.</p>;
  return (
    <>
      <h1>Search: “{words}”</h1>
      <SortSelect path="/search" params={params} />
      {data ? (
        <>
          <ProductGrid products={data.products.edges.map((edge) => edge.node)} busy={fetching} />
          <Pager path="/search" params={params} pageInfo={data.products.pageInfo} />
        </>
      ) : fetching ? (
        <Loading />
      ) : (
        <Errors error={error} />
      )}
    </>
  );
}
