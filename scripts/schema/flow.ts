// A small frontend flow typed from the generated schema (openapi-typescript +
// openapi-fetch), compiled by scripts/schema_lint.sh under `tsc --strict`. No casts, no
// `any`, no non-null assertions: if the schema called an always-present field optional,
// or a query parameter a free string, this file would stop compiling.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

function fail(problem: Problem): never {
  const fields = (problem.errors ?? []).map((e) => `${e.field ?? "-"}: ${e.message}`);
  const wait = problem.retry_after === undefined ? "" : ` (retry in ${problem.retry_after}s)`;
  throw new Error(`${problem.status} ${problem.code}: ${problem.detail}${wait} ${fields.join("; ")}`);
}

export function fullName(user: Schemas["User"]): string {
  // first_name / last_name are always present (maybe empty), never undefined.
  const name: string = `${user.first_name} ${user.last_name}`.trim();
  return name === "" ? user.email : name;
}

export function addressLines(address: Schemas["Address"]): string[] {
  const lines: string[] = [address.full_name, address.street, address.street2];
  lines.push(`${address.postal_code} ${address.city} ${address.state}`.trim(), address.country);
  return lines.filter((line) => line !== "");
}

export async function shop(email: string, password: string): Promise<string> {
  const login = await api.POST("/api/v1/auth/login/", { body: { email, password } });
  if (login.error) fail(login.error);
  const auth = { headers: { Authorization: `Bearer ${login.data.access}` } };
  const greeting = `Hello ${fullName(login.data.user)}`;

  // Public reads need no token; the query parameters keep their real types.
  const categories = await api.GET("/api/v1/categories/", { params: { query: { root: true } } });
  if (categories.error) fail(categories.error);
  const topLevel: number[] = categories.data.results
    .filter((category) => category.parent === null)
    .map((category) => category.id);

  const page = await api.GET("/api/v1/products/", {
    params: {
      query: { search: "fabrikam power", in_stock: true, ordering: "-price", page_size: 5 },
    },
  });
  if (page.error) fail(page.error);
  const next: string | null = page.data.next;
  const previous: string | null = page.data.previous;
  const product = page.data.results[0];
  if (product === undefined) return `${greeting}: nothing found (next=${next}, ${previous})`;
  const categoryName: string = product.category.name;
  const primary = product.images.find((image) => image.is_primary);

  const cart = await api.POST("/api/v1/cart/", {
    ...auth,
    body: { product: product.id, quantity: 1 },
  });
  if (cart.error) fail(cart.error);
  const lineTotal: string = cart.data.line_total;

  const addresses = await api.GET("/api/v1/users/addresses/", auth);
  if (addresses.error) fail(addresses.error);
  const shipTo = addresses.data.results.find((address) => address.is_default_shipping);

  const order = await api.POST("/api/v1/orders/", {
    params: { header: { "Idempotency-Key": "checkout-1" } },
    ...auth,
    body:
      shipTo === undefined
        ? { payment_method: "card" }
        : { payment_method: "card", shipping_address_id: shipTo.id },
  });
  if (order.error) fail(order.error);
  const placed = order.data;
  const cancellable: boolean = placed.allowed_actions.includes("cancel");
  const shipping = addressLines({ ...placed.shipping_address, id: 0, is_default_billing: false, is_default_shipping: false });

  const mine = await api.GET("/api/v1/orders/", {
    ...auth,
    params: { query: { status: "pending", page: 1 } },
  });
  if (mine.error) fail(mine.error);

  return [
    greeting,
    `${topLevel.length} top-level categories`,
    `${product.name} (${categoryName}, ${primary?.url ?? "no image"}): ${lineTotal}`,
    `order ${placed.number} ${placed.status}/${placed.payment_status} ${placed.total} ${placed.currency}`,
    `cancellable: ${cancellable}; ${mine.data.count} pending; to ${shipping.join(", ")}`,
  ].join("\n");
}
