-- expect-syntax: 3:18: field name expected near ','
type User = {
    name: string,,
    age: number,
}
