"""The ceiling: the same server stack (uvicorn + Starlette) with a POST route that only
returns fixed bytes. No real endpoint can be faster, so ratios against it are honest."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"active":true,"sub":"bench","exp":4102444800,"iat":1700000000}'


async def introspect(request: Request) -> Response:
    await request.body()  # read the body, as any real endpoint must
    return Response(_BODY, media_type="application/json")


app = Starlette(routes=[Route("/oauth2/introspect", introspect, methods=["POST"])])
