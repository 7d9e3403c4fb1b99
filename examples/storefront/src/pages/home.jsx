// Home: the category tree (two levels) and the newest products.
import { useQuery } from "@urql/preact";
import { Errors, Loading, PRODUCT_CARD, ProductGrid } from "../components.jsx";
import { Link } from "../router.jsx";

const HOME = `
  query Home {
    categories(first: 10) { id name slug children(first: 10) { id name slug } }
    products(first: 8, sortBy: { field: CREATED_AT, direction: DESC }) { edges { node { ${PRODUCT_CARD} } } }
  }
`;

export function Home() {
  const [{ data, error, fetching }] = useQuery({ query: HOME });
  if (!data) return fetching ? <Loading /> : <Errors error={error} />;
  return (
    <>
      <h1>Shop by category</h1>
      <ul class="categories">
        {data.categories.map((category) => (
          <li key={category.id}>
            <Link href={`/c/${category.slug}`} class="category">{category.name}</Link>
            <ul>
              {category.children.map((child) => (
                <li key={child.id}>
                  <Link href={`/c/${child.slug}`}>{child.name}</Link>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      <h2>New in</h2>
      <ProductGrid products={data.products.edges.map((edge) => edge.node)} />
    </>
  );
}
