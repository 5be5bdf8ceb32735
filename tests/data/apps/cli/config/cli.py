from wippy import process


async def greet(name="world"):
    return f"hello {name}"


async def code(n):
    return int(n)


async def fail():
    raise RuntimeError("it went wrong")


async def falsy():
    return False


async def printer(*words):
    for w in words:
        print("word:", w)
    return None


async def kv(state):
    """A key-value server addressed by its service name (app:store)."""
    data = dict(state)
    inbox = process.inbox()
    while True:
        msg = await inbox.receive()
        op, key, value = msg.payload
        if op == "put":
            data[key] = value
        process.send(msg.sender, "kv", data.get(key))


async def flaky():
    """Fails a few times; each start tells the store (so the test can count restarts)."""
    process.send("app:store", "kv", ["put", "flaky_starts", 1])
    await process.inbox().receive()
    raise RuntimeError("flaky failure")


async def ask(key):
    process.send("app:store", "kv", ["get", key, None])
    msg = await process.inbox().receive()
    return str(msg.payload)
