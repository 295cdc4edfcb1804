// The SKU picker's rules, apart from the page: which combination is chosen, and which values can still lead to
// a SKU in stock given the other choices.
export function specNames(product) {
  const names = Object.keys(product.spec_options || {})
  if (names.length) return names
  const seen = []
  for (const sku of product.skus || []) {
    for (const name of Object.keys(sku.specs || {})) if (!seen.includes(name)) seen.push(name)
  }
  return seen
}

export function specValues(product, name) {
  const listed = (product.spec_options || {})[name]
  if (listed && listed.length) return listed
  const values = []
  for (const sku of product.skus || []) {
    const value = (sku.specs || {})[name]
    if (value !== undefined && !values.includes(value)) values.push(value)
  }
  return values
}

function matches(sku, chosen) {
  return Object.entries(chosen).every(([name, value]) => value === undefined || (sku.specs || {})[name] === value)
}

// The SKU every spec name is chosen for, or null.
export function chosenSku(product, chosen) {
  const names = specNames(product)
  if (names.some((name) => chosen[name] === undefined)) return null
  return (product.skus || []).find((sku) => matches(sku, chosen)) || null
}

// Whether picking `value` for `name` (keeping the other choices) still reaches a SKU with stock.
export function valueAvailable(product, chosen, name, value) {
  const trial = { ...chosen, [name]: value }
  return (product.skus || []).some((sku) => matches(sku, trial) && sku.stock > 0)
}

export function specText(specs) {
  return Object.entries(specs || {}).map(([name, value]) => `${name}：${value}`).join('，')
}
