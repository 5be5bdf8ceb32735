-- expect: {"loading": "Loading...", "loaded": "Hello, Ann", "error": "Error: bad", "bad_variant": "LoadState: missing field 'data'"}
-- Tagged unions; the error names the variant the tag selects.
type User = {name: string}
type LoadState =
    {status: "loading"}
    | {status: "loaded", data: User}
    | {status: "error", message: string}

local function render(state: LoadState): string
    if state.status == "loading" then
        return "Loading..."
    elseif state.status == "loaded" then
        return "Hello, " .. state.data.name
    elseif state.status == "error" then
        return "Error: " .. state.message
    end
    return "?"
end

local _, err = LoadState:is({status = "loaded"})
return {
    loading = render(LoadState({status = "loading"})),
    loaded = render({status = "loaded", data = {name = "Ann"}}),
    error = render({status = "error", message = "bad"}),
    bad_variant = err:message(),
}
