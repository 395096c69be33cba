"""Training projects (培训项目): designed by an organiser, approved above where the jurisdiction
requires it, run, completed, and their participants registered in one batch ("谁设计、谁登记")."""

from __future__ import annotations


class ProjectService:
    def __init__(self, services):
        self.s = services
