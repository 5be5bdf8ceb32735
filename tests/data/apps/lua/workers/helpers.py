import wippy


def double(x):
    return x * 2


async def echo(payload):
    return {"echo": payload}


async def talks_to_lua(host):
    """Spawn a Lua echo process, talk to it, and return what came back."""
    pid = wippy.process.spawn("lua:echo", host)
    wippy.process.send(pid, "data", {"n": 1, "list": [1, 2.5, "x", None, True], "bin": b"\xff\x00"})
    msg = await wippy.process.inbox().receive()
    wippy.process.send(pid, "stop")
    return {"topic": msg.topic, "from_lua": msg.sender == pid, "payload": msg.payload,
            "lua_double": await wippy.funcs.call("lua:double", 21)}
