"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium against
the web app served by `dialer serve` on 127.0.0.1, with screenshots kept as test
artifacts in test-artifacts/browser/."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.procs import ROOT, dialer_cmd, spawn, stop, wait_for

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def web_server(workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`dialer serve` on a free port; yields its base URL."""
    port = free_tcp_port()
    log = workdir / "web.log"
    proc = spawn(dialer_cmd("serve", "--port", str(port)), log, env)

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_for(up, 60, "dialer serve", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@contextmanager
def chromium(workdir: Path) -> Iterator[Any]:
    """A headless Chromium with a new profile; quits at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), \
        "chromium and chromium-driver are not installed (make test installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={workdir / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(
        CHROMEDRIVER, log_output=str(workdir / "chromedriver.log")))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    """Numbered full-page screenshots of one test, in test-artifacts/browser/<test>/."""

    def __init__(self, driver: Any, name: str) -> None:
        self.driver, self.n = driver, 0
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)

    def __call__(self, label: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{label}.png"
        height = self.driver.execute_script("return document.body.scrollHeight")
        self.driver.set_window_size(1280, max(800, min(int(height) + 40, 6000)))
        assert self.driver.save_screenshot(str(path)), f"no screenshot {path}"
        return path


def log_in(driver: Any, base: str, user: str, password: str, page: str) -> None:
    """Open `page`, which sends to the login form, log in there, and wait to be back."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}{page}")
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    until(lambda: driver.current_url == f"{base}{page}", 20, f"{page} for {user}")


def until(predicate: Callable[[], Any], timeout: float, what: str,
          every: float = 0.25) -> Any:
    """Poll until predicate() is truthy; its value. Fails with `what` on time out."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - a page between loads: look again
            value = None
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
