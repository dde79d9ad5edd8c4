#pragma once

#include <string_view>

namespace booking::console {

// The box-office console served at `GET /` (Content-Type: text/html; charset=utf-8): one
// self-contained HTML page (inline CSS and JavaScript, no external assets) that sends sample
// status changes (POST /v1/tickets-status), shows each ticket's steps live (GET
// /v1/tickets:watch as Server-Sent Events, resumed with Last-Event-ID) and lists and retries dead
// letters (/v1/admin/dead-letters). With a token saved in the page, every call carries
// `Authorization: Bearer <token>`. `/?send=confirmed` sends one sample ticket once the stream is
// live and holds the page's load event until that ticket is stored and receipted (at most 25 s),
// so that headless Chromium's --dump-dom and --screenshot capture the whole flow.
std::string_view ConsolePageHtml();

}  // namespace booking::console
