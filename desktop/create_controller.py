"""The Create side of the window: the request flow (Check-in, the LLM's second reading, the question,
"nothing fits"), the chosen checkpoint and its settings, generation, re-runs from the history.
A QObject that drives the window's create widgets and runs every long step in a worker."""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from app.generation import GenerationJob, Selection
from app.history import GenerationParams, HistoryEntry
from app.jobs import Notice, Stage, Step
from desktop import flow as F
from desktop.images import to_qimage
from desktop.models import card_display_name
from desktop.workers import WindowController

log = logging.getLogger(__name__)


class CreateController(WindowController):
    def __init__(self, window):
        super().__init__(window)
        self.flow = F.RequestFlow()
        self.checkin_result = None
        self.selection: Selection | None = None
        self.checkin_worker = None
        self.refine_worker = None
        self.gen_worker = None
        self.last_outcome = None
        self._pending_checkin = None
        self._batch: list[GenerationParams] = []  # the rest of a batch, run after the current image

    def resume_pending_checkin(self) -> None:
        """A request that waited for the library's embeddings runs now."""
        if self._pending_checkin is not None:
            name, fn, args = self._pending_checkin
            self._start_checkin(name, fn, *args)


    def submit_request(self, text: str) -> None:
        from common.text import clean_request

        text = clean_request(text)  # pasted control characters or undecodable bytes stop here
        if self.flow.state == F.GENERATING:
            self.w.request_panel.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return
        if self.checkin_worker is not None:
            self.checkin_worker.cancel()
        if self.refine_worker is not None:
            self.refine_worker.cancel()
            self.refine_worker = None
        self.w.request_panel.refine_note.hide()
        self.flow.request = text
        self.flow.fire("submit")
        self.w.generation_panel.show_idle()  # the last image belongs to the last request, not to the next pick
        self.w.status_label.setText("")  # so does its "Saved …" line
        self.w.request_panel.banner.hide()
        self.w.request_panel.show_page("checking")
        self.w.request_panel.set_busy(True)
        # retrieval answers at once; the local LLM refines that answer in the background when it is on
        self._start_checkin("check-in", lambda ctx, t: self.core.check_in(ctx, t, use_llm=False), text)

    def answer_clarification(self, answer: str) -> None:
        if self.checkin_result is None or not self.flow.can("answer"):
            return
        self.flow.fire("answer")
        self.w.request_panel.show_page("checking")
        self.w.request_panel.set_busy(True)
        self._start_checkin("clarify", self.core.resolve, self.checkin_result, answer)

    def _start_checkin(self, name: str, fn, *args) -> None:
        """Run Check-in (or its clarification) in a worker; a newer request makes older answers stale.

        While the library's embeddings are still being computed, Check-in waits for them: without
        them it would judge on words alone and say "none" where the meaning fits.
        """
        if self.w.library.embed_worker is not None:
            self._pending_checkin = (name, fn, args)
            self.w.request_panel.checking_label.setText("Preparing search over your library (first time only)…")
            return
        self._pending_checkin = None
        self.w.request_panel.checking_label.setText("Reading your request and searching the library…")
        holder: list = []

        def current() -> bool:
            return bool(holder) and holder[0] is self.checkin_worker

        holder.append(self.workers.submit(
            name, fn, *args,
            on_finished=lambda result: current() and self._checkin_done(result, refine=name == "check-in"),
            on_failed=lambda message: current() and self._checkin_failed(message)))
        self.checkin_worker = holder[0]

    def _start_refine(self, request: str) -> None:
        """The local LLM reads the request (other languages, negations) while the retrieval answer is on screen."""
        if not self.core.llm_enabled():
            return
        self.w.request_panel.refine_note.setText("The local model is reading your request…")
        self.w.request_panel.refine_note.show()
        holder: list = []

        def current() -> bool:
            return bool(holder) and holder[0] is self.refine_worker and self.flow.request == request

        def finished(result) -> None:
            if current():
                self._refine_done(result)

        def failed(message: str) -> None:
            if current():
                self.refine_worker = None
                log.warning("LLM refinement failed: %s", message)
                self.w.request_panel.refine_note.setText("The local model gave up; this is the search's answer.")

        holder.append(self.workers.submit("check-in-llm", lambda ctx, t: self.core.check_in(ctx, t, use_llm=True),
                                          request, on_finished=finished, on_failed=failed))
        self.refine_worker = holder[0]

    def _refine_done(self, result) -> None:
        self.refine_worker = None
        self.w.request_panel.refine_note.hide()
        if self.flow.state not in ("selected", "clarify", "none") or not self.flow.can("refine"):
            return  # the user moved on (generating, answered): their step wins
        before = self.checkin_result
        if before is not None and _same_decision(before, result) and not result.restated:
            return
        self.flow.fire("refine", result.status)
        self._show_checkin(result)

    def _checkin_done(self, result, refine: bool = False) -> None:
        self.checkin_worker = None
        self.w.request_panel.set_busy(False)
        self.flow.fire("result", result.status)
        self._show_checkin(result)
        if refine:
            self._start_refine(self.flow.request)

    def _show_checkin(self, result) -> None:
        self.checkin_result = result
        status = result.status
        if result.note:  # one line on what Check-in could not do, e.g. a style the library lacks
            self.w.request_panel.banner.show_message(result.note, "info")
        if status == "selected":
            card = result.card
            self.selection = self.core.selection_for(result)
            caption = f"Read as “{result.restated}”. Check-in chose" if result.restated else "Check-in chose"
            self._use_model_defaults()
            self.w.request_panel.show_selected(card_display_name(card), card.preview, card.kind, card.base_model,
                                             self.selection.trigger, result.prompt or self.flow.request, caption)
            self._show_set()
        elif status == "clarify":
            names = result.option_names or [_option_name(o) for o in result.options]
            options = [(name, card.path) for name, card in zip(names, result.options)]
            self.w.request_panel.show_clarify(result.question or "Which one did you mean?", options)
        else:
            family = self.core.likely_family()
            base = self.core.base_selection(family)
            read_as = f" (read as “{result.restated}”)" if result.restated else ""
            suggestions = [(card_display_name(c), c.path) for c in getattr(result, "suggestions", [])]
            self.w.request_panel.show_none(f"Nothing in your library fits this request{read_as}.", base is not None,
                                         f"You can still make it with the {base.name}." if base else "", suggestions)

    def _checkin_failed(self, message: str) -> None:
        self.checkin_worker = None
        self.w.request_panel.set_busy(False)
        self.flow.fire("fail", message)
        self.w.request_panel.show_page("hint")
        log.error("check-in failed: %s", message)
        self.w.request_panel.banner.show_message("Check-in could not read this request (the log has the details). "
                                                 "You can still pick a checkpoint in the Library.", "error")

    def use_base_model(self) -> None:
        base = self.core.base_selection(self.core.likely_family())
        if base is None:
            self.w.request_panel.banner.show_message("No base model is set up. Choose one in Settings → Library.", "error")
            return
        self.flow.fire("use_base")
        self.selection = base
        self._use_model_defaults()
        self.w.request_panel.show_selected(base.name, base.preview, base.kind, base.base_model, None,
                                         self.flow.request, caption="Base model, no personalization")
        self._show_set()

    def use_card(self, path: str) -> None:
        """From the library: generate with this card directly (skips Check-in)."""
        card = self.w.library_model.card(path)
        if card is None:
            return
        if not self.flow.can("choose"):
            self.w.library_page.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return
        self.selection = Selection.from_card(card)
        self._use_model_defaults()
        self.flow.request = self.w.request_panel.input.text().strip()
        self.flow.fire("choose")
        prompt = self.flow.request or (self.selection.trigger or "")
        if self.flow.request:
            prompt = self.core.rewrite(self.flow.request, card).prompt
        self.w.request_panel.show_selected(card_display_name(card), card.preview, card.kind, card.base_model,
                                         self.selection.trigger, prompt, caption="You chose")
        self._show_set()
        self.w.go("create")

    def _use_model_defaults(self) -> None:
        """The size, steps and guidance the chosen model was made for (the demo's: 32×32)."""
        try:
            self.w.generation_panel.use_model_defaults(self.core.default_params(self.selection))
        except (OSError, ValueError, RuntimeError) as exc:  # a vanished file, a bad config, no base: keep the panel
            log.warning("no model defaults for %s: %s", self.selection.path if self.selection else None, exc)

    def start_generation(self, prompt: str, params: GenerationParams | None = None) -> None:
        if self.selection is None or not prompt:
            self.w.request_panel.banner.show_message("Type a request first.", "info")
            return
        if not self.flow.can("generate"):
            return
        panel = self.w.generation_panel
        params = params or panel.params()
        extras = panel.extras()
        # a batch is one job per image, each with the next seed, run one after the other
        self._batch = [replace(params, seed=(params.seed + i) % 2**31) for i in range(1, extras["batch"])]
        panel.start_batch()
        self._run_job(GenerationJob(self.selection, prompt, params, request=self.flow.request,
                                    negative_prompt=extras["negative_prompt"], scheduler=extras["scheduler"]))

    def _run_job(self, job: GenerationJob) -> None:
        self.flow.fire("generate")
        self.w.request_panel.generate_button.setEnabled(False)
        self.w.request_panel.banner.hide()
        self.w.generation_panel.show_started()
        self.gen_worker = self.workers.submit(
            "generate", lambda ctx, j: self.core.generate(ctx, j, preview=to_qimage), job,
            on_progress=self._gen_progress, on_finished=self._gen_done,
            on_failed=self._gen_failed, on_cancelled=self._gen_cancelled)

    def cancel_generation(self) -> None:
        if self.gen_worker is not None:
            self.gen_worker.cancel()

    def _gen_progress(self, event) -> None:
        if isinstance(event, Notice):  # e.g. the quantized model could not be kept on a full disk
            self.w.request_panel.banner.show_message(event.text, "info")
        elif isinstance(event, Stage):
            self.w.generation_panel.show_stage(event.text)
        elif isinstance(event, Step):
            self.w.generation_panel.show_step(event.step, event.total, event.preview)

    def _gen_done(self, outcome) -> None:
        self.gen_worker = None
        self.last_outcome = outcome
        self.flow.fire("generated")
        self.w.request_panel.generate_button.setEnabled(True)
        job = outcome.job
        entry = HistoryEntry(prompt=job.prompt, params=job.params, image_path=outcome.image_path,
                             request=job.request, negative_prompt=job.negative_prompt, checkpoint=job.selection.path,
                             checkpoint_name=job.selection.name, trigger=job.selection.trigger,
                             seconds=outcome.seconds, extra={"kind": job.selection.kind,
                                                             "base_model": job.selection.base_model,
                                                             "is_base": job.selection.is_base,
                                                             "scheduler": job.scheduler,
                                                             "weight": job.selection.weight,
                                                             "extras": [[e.path, e.weight] for e in job.selection.extras],
                                                             **outcome.extra})
        try:
            self.w.history.add(entry)
            self.w.history_model.prepend(entry)
        except (sqlite3.Error, TypeError, ValueError) as exc:  # a full disk, a locked file, an unstorable value
            self.w.request_panel.banner.show_message(f"The image was saved but not added to the history: {exc}", "error")
        self.w.generation_panel.show_done(outcome.image_path, outcome.seconds)
        self.w.generation_panel.add_to_batch(outcome.image_path)
        self.w.status_label.setText(f"Saved {outcome.image_path}")
        if self._batch:
            self._run_job(replace(job, params=self._batch.pop(0)))

    def _gen_failed(self, message: str) -> None:
        self._batch = []
        self.gen_worker = None
        self.flow.fire("fail", message)
        self.w.request_panel.generate_button.setEnabled(True)
        self.w.generation_panel.show_failed(message)
        self.w.request_panel.banner.show_message(f"Generation failed: {message}", "error")

    def _gen_cancelled(self) -> None:
        self._batch = []
        self.gen_worker = None
        self.flow.fire("cancelled")
        self.w.request_panel.generate_button.setEnabled(True)
        self.w.generation_panel.show_cancelled()

    def rerun(self, entry: HistoryEntry) -> None:
        if self.send_to_create(entry, caption="Running again with"):
            self.start_generation(entry.prompt, entry.params)

    def send_to_create(self, entry: HistoryEntry, caption: str = "From your history") -> bool:
        """A past image's request, checkpoint and settings back on the Create page, to change and run."""
        if not self.flow.can("choose"):
            self.w.request_panel.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return False
        extra = entry.extra or {}
        if entry.checkpoint:
            card = self.w.library_model.card(entry.checkpoint)
            self.selection = Selection.from_card(card) if card else Selection(
                entry.checkpoint, extra.get("kind", "checkpoint"), extra.get("base_model", "sd15"),
                entry.checkpoint_name, entry.trigger, None, bool(extra.get("is_base")))
        self.selection.weight = float(extra.get("weight", 1.0))
        self.selection.extras = []
        for path, weight in extra.get("extras", []):  # the styles it was made with come back as chips
            card = self.w.library_model.card(path)
            if card is not None:
                again = Selection.from_card(card)
                again.weight = float(weight)
                self.selection.extras.append(again)
        self._restore(entry, caption=caption)
        return True

    def _restore(self, entry: HistoryEntry, caption: str) -> None:
        panel = self.w.generation_panel
        panel.set_params(entry.params)
        panel.set_extras((entry.extra or {}).get("scheduler"), entry.negative_prompt)
        self.flow.request = entry.request
        self.w.request_panel.input.setText(entry.request)
        self.flow.fire("choose")
        self.w.request_panel.show_selected(self.selection.name, self.selection.preview, self.selection.kind,
                                           self.selection.base_model, self.selection.trigger, entry.prompt,
                                           caption=caption)
        self._show_set()
        self.w.go("create")

    def restore_png(self, path: str) -> bool:
        """A PNG dropped on the window (ours or A1111's `parameters`): its prompt and settings on the Create page,
        on the checkpoint it names when the library has it. False when the file carries no parameters."""
        from app.restore import image_request

        found = image_request(path, self.w.library_model.cards(), self.settings)
        if found is None:
            self.w.request_panel.banner.show_message("That image carries no generation parameters.", "info")
            return False
        if not self.flow.can("choose"):
            self.w.request_panel.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return False
        self.selection = Selection.from_card(found.card) if found.card else self.core.base_selection(self.core.likely_family())
        if self.selection is None:
            self.w.request_panel.banner.show_message("The image's checkpoint is not in your library and no base "
                                                     "model is set up.", "info")
            return False
        entry = HistoryEntry(prompt=found.prompt, params=found.params, image_path=path, request=found.prompt,
                             negative_prompt=found.negative_prompt, extra={"scheduler": found.scheduler})
        self._restore(entry, caption="From the image you dropped")
        return True

    # -- several personalizations in one image: chips with weights
    def _show_set(self) -> None:
        sel = self.selection
        if sel is None:
            self.w.request_panel.show_set([])
            return
        items = [(sel.path, sel.name, sel.preview, sel.weight if sel.kind == "lora" else None, False)]
        items += [(e.path, e.name, e.preview, e.weight if e.kind == "lora" else None, True) for e in sel.extras]
        self.w.request_panel.show_set(items)

    def add_extra(self, path: str) -> None:
        """From the library: put this LoRA or embedding on the chosen checkpoint (a style on a subject)."""
        from app.composition import CannotCompose, add_extra

        card = self.w.library_model.card(path)
        if card is None:
            return
        if self.selection is None or self.flow.state not in ("selected", "done", "cancelled", "failed"):
            self.w.library_page.banner.show_message("Choose what the image is of first (a request or "
                                                    "“Use in a request”), then add a style to it.", "info")
            return
        try:
            add_extra(self.selection, Selection.from_card(card))
        except CannotCompose as exc:
            self.w.library_page.banner.show_message(f"Cannot add it: {exc}.", "info")
            return
        panel = self.w.request_panel
        prompt = panel.prompt.toPlainText().strip()
        panel.prompt.setPlainText(self.core.rewrite(prompt, card).prompt if prompt else prompt)
        self._show_set()
        self.w.go("create")

    def set_weight(self, path: str, weight: float) -> None:
        sel = self.selection
        if sel is None:
            return
        for item in [sel, *sel.extras]:
            if item.path == path:
                item.weight = weight

    def remove_extra(self, path: str) -> None:
        sel = self.selection
        if sel is None:
            return
        gone = [e for e in sel.extras if e.path == path]
        sel.extras = [e for e in sel.extras if e.path != path]
        panel = self.w.request_panel
        for extra in gone:  # its trigger leaves the prompt with it
            if extra.trigger:
                prompt = panel.prompt.toPlainText().replace(extra.trigger, " ")
                panel.prompt.setPlainText(" ".join(prompt.split()).strip(" ,"))
        self._show_set()

    def open_folder(self, image_path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(image_path).parent)))


def _same_decision(a, b) -> bool:
    """Two Check-in results that would show the same thing: same status, card and options."""
    card = lambda r: r.card.path if r.card is not None else None  # noqa: E731
    return (a.status, card(a), [o.path for o in a.options or []]) == (b.status, card(b), [o.path for o in b.options or []])


def _option_name(option) -> str:
    if isinstance(option, dict):
        return option.get("name") or Path(option.get("path", "?")).stem
    name = getattr(option, "name", None)
    if name:
        return name
    path = getattr(option, "path", None) or str(option)
    return Path(path).stem
