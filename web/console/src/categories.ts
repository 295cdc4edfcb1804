// The category tree, flattened for <select>s and name look-ups.
import { api, ok, type Schemas } from "./api/client";

export type FlatCategory = { id: string; name: string; path: string; depth: number; node: Schemas["CategoryNode"] };

export function flatten(nodes: Schemas["CategoryNode"][], parents: string[] = [], depth = 0): FlatCategory[] {
  return nodes.flatMap((node) => {
    const path = [...parents, node.name];
    return [{ id: node.category_id, name: node.name, path: path.join(" / "), depth, node },
      ...flatten(node.children ?? [], path, depth + 1)];
  });
}

export async function loadCategories(): Promise<FlatCategory[]> {
  const tree = await ok(api.GET("/admin/categories"));
  return flatten(tree.items);
}
