"""Returns its arguments: the process of the minimal test application."""


async def main(*args):
    return list(args)
