"""Screenshot a running console for the README: sign in, open a page, save a PNG.

    bash scripts/demo.sh        # prints the admin's password
    .venv/bin/python scripts/console_screenshot.py --password PASSWORD [--page /console/] \
        [--base http://127.0.0.1:5000] [--user admin] [-o docs/console.png]

Playwright drives Debian's Chromium (/usr/bin/chromium), headless; it never downloads a browser.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--page", default="/console/", help="the page to show, after sign-in")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/console.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"{args.base}/console/sign-in")
        page.get_by_label("User").fill(args.user)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{args.base}/console/**")
        if args.page != "/console/":
            page.goto(args.base + args.page)
        page.wait_for_load_state("networkidle")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output), full_page=False)
        browser.close()
    print(args.output)


if __name__ == "__main__":
    main()
