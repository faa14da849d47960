"""The bot's aiohttp transport for Bot API calls (handlers/bot_request.py AiohttpRequest), against a real
HTTP server: form fields and file uploads arrive as python-telegram-bot sends them with httpx, and
network failures become PTB's NetworkError without the token in the message."""

from __future__ import annotations

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError

from handlers.bot_request import AiohttpRequest

TOKEN = "123456:REQUEST-test-token"


@pytest.fixture
async def server():
    received: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        fields = {}
        for name, value in form.items():
            fields[name] = (value.filename, value.file.read()) if hasattr(value, "filename") else value
        received.append({"method": request.match_info["method"], "fields": fields,
                         "agent": request.headers.get("User-Agent", "")})
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Bot",
                                                             "username": "test_bot"}})
        return web.json_response({"ok": True, "result": {"message_id": 7, "date": 0,
                                                         "chat": {"id": int(fields["chat_id"]), "type": "private"}}})

    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/{{method}}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot", received
    await runner.cleanup()


async def test_form_fields_and_a_file_upload_arrive_as_sent(server):
    base_url, received = server
    async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest(2)) as bot:
        sent = await bot.send_message(42, "你好 <b>x</b>", parse_mode="HTML")
        await bot.send_document(42, InputFile(b"%PDF-1.4 bytes", filename="claims.pdf"), caption="附件")
    assert sent.message_id == 7
    text, document = received[-2], received[-1]
    assert text["method"] == "sendMessage" and text["fields"]["text"] == "你好 <b>x</b>"
    assert text["fields"]["parse_mode"] == "HTML" and text["agent"].startswith("python-telegram-bot")
    assert document["method"] == "sendDocument" and document["fields"]["caption"] == "附件"
    filename, content = document["fields"]["document"]
    assert (filename, content) == ("claims.pdf", b"%PDF-1.4 bytes")


async def test_an_unreachable_server_is_a_network_error_without_the_token():
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await request.do_request(f"http://127.0.0.1:9/bot{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()
    assert TOKEN not in str(caught.value)
