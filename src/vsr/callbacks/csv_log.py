"""A CSV logger whose history survives restarts.

Lightning's `CSVLogger` deletes `metrics.csv` when a run starts again in the same directory.
`CSVLogger` here appends to it instead; every checkpoint records how many rows were on disk
when it was written (`Checkpoints.on_save_checkpoint`), and a run resumed from that checkpoint
first cuts the file back to those rows (`rewind`): the rows logged after the checkpoint are
logged again by the resumed run, so the file ends as an uninterrupted run's would.
"""

from __future__ import annotations

import csv
import logging
import os

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

log = logging.getLogger(__name__)


class _AppendingWriter(ExperimentWriter):
    """Lightning's writer, continuing an existing `metrics.csv` (its header included)."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as file:
                self.metrics_keys = list(csv.DictReader(file).fieldnames or [])


class CSVLogger(_LightningCSVLogger):
    """`lightning.pytorch.loggers.CSVLogger` that appends across restarts (same arguments)."""

    @property
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment

    def rows_written(self) -> int:
        """Data rows in `metrics.csv` (call `save()` first to include the buffered ones)."""
        path = self.experiment.metrics_file_path
        if not os.path.isfile(path):
            return 0
        with open(path, newline="") as file:
            return sum(1 for _ in csv.DictReader(file))

    def rewind(self, rows: int) -> None:
        """Keep the first `rows` data rows of `metrics.csv` (atomically), drop the rest."""
        writer = self.experiment
        path = writer.metrics_file_path
        writer.metrics = []
        if not os.path.isfile(path):
            return
        with open(path, newline="") as file:
            reader = csv.DictReader(file)
            fields = list(reader.fieldnames or [])
            kept = [row for _, row in zip(range(rows), reader, strict=False)]
            dropped = sum(1 for _ in reader)
        if dropped == 0:
            return
        log.info("%s: dropping %d rows logged after the checkpoint", path, dropped)
        tmp = f"{path}.tmp"
        with open(tmp, "w", newline="") as file:
            out = csv.DictWriter(file, fieldnames=fields)
            out.writeheader()
            out.writerows(kept)
        os.replace(tmp, path)
        writer.metrics_keys = fields
