// What the client checks share: PASS/FAIL lines, a plain GraphQL call outside the client under
// test (to change data behind its back), the admin's sign-in and a category to page through.

let passed = 0;
let failed = 0;

/** Records one check and prints it. */
export function check(name, ok, detail = "") {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${ok || !detail ? "" : `: ${detail}`}`);
  if (ok) passed += 1;
  else failed += 1;
  return ok;
}

/** Prints the closing count and sets the exit code. */
export function finish(client) {
  console.log(`${client}: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

/** Runs `main`, turning an exception into a failed check (with its message) and the count. */
export async function run(client, main) {
  try {
    await main();
  } catch (error) {
    check(`${client} ran to the end`, false, error?.stack ?? String(error));
  }
  finish(client);
}

/** A plain POST, as any HTTP client would send it; throws on GraphQL errors. */
export async function raw(url, query, variables = {}, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/graphql-response+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors?.length) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Signs the admin in; returns the session token. */
export async function signIn(url, email, password) {
  const data = await raw(
    url,
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { session { token } userErrors { code message } } }",
    { e: email, p: password },
  );
  if (!data.login.session) throw new Error(`admin sign-in failed: ${JSON.stringify(data.login.userErrors)}`);
  return data.login.session.token;
}

/** Renames a product behind the client's back (as the admin). */
export async function rename(url, token, productId, name) {
  const data = await raw(
    url,
    "mutation($id: ID!, $n: String!) { productUpdate(id: $id, input: { name: $n }) { product { id name } userErrors { code message } } }",
    { id: productId, n: name },
    token,
  );
  if (data.productUpdate.userErrors.length) throw new Error(JSON.stringify(data.productUpdate.userErrors));
}

/**
 * The top-level category with the most products (so that a small page size gives several
 * pages), with every product id of it in list order, fetched in one go.
 */
export async function biggestCategory(url) {
  const { categories } = await raw(url, "{ categories(first: 50) { slug } }");
  let best = null;
  for (const { slug } of categories) {
    const { category } = await raw(
      url,
      "query($s: String!) { category(slug: $s) { id slug products(first: 100) { edges { node { id name } } pageInfo { hasNextPage } } } }",
      { s: slug },
    );
    if (category.products.pageInfo.hasNextPage) throw new Error(`${slug} has more than 100 products`);
    const products = category.products.edges.map((edge) => edge.node);
    if (!best || products.length > best.products.length) best = { id: category.id, slug, products };
  }
  if (!best || best.products.length < 4) throw new Error("no category with at least 4 products");
  return best;
}

/** Whether two lists of ids are the same, in the same order; else what differs. */
export function sameIds(got, want) {
  const duplicates = got.filter((id, i) => got.indexOf(id) !== i);
  const missing = want.filter((id) => !got.includes(id));
  if (duplicates.length || missing.length || got.length !== want.length || got.some((id, i) => id !== want[i])) {
    return `got ${got.length} (duplicates: ${duplicates.join(", ") || "none"}; missing: ${missing.join(", ") || "none"}), want ${want.length}`;
  }
  return "";
}
