"""A level gate in front of a VAD model: clear silence is never speech, whatever the model says."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class LevelGate:
    """Forces the speech probability of a window to 0 when the window is

    - below ``floor_dbfs`` (absolute: digital silence, a muted microphone), or
    - while a segment is open, ``relative_db`` below the mean power of that segment's speech.

    VAD models hold their decision for ~100 ms after speech stops (Silero's recurrent state
    decays, WebRTC has a hangover), which makes segments end late; the relative gate ends them
    where the signal actually drops. It only acts on windows far below the speaker, so in a noisy
    room (noise within ``relative_db`` of the speech) the model decides alone.
    """

    def __init__(self, *, floor_dbfs: float, relative_db: float = -30.0) -> None:
        self._floor = 10.0 ** (floor_dbfs / 10.0)  # mean square of [-1, 1] samples
        self._relative = 10.0 ** (relative_db / 10.0)
        self._level = 0.0  # mean power of the open segment's speech windows (0 = no segment)

    def apply(
        self, window: npt.NDArray[np.float32], probability: float, threshold: float, speaking: bool
    ) -> float:
        """The gated probability of ``window`` (float samples in [-1, 1]); ``speaking`` = a segment is open."""
        return self.apply_power(self.power(window), probability, threshold, speaking)

    @staticmethod
    def power(window: npt.NDArray[np.float32]) -> float:
        """The mean square of ``window`` (float samples in [-1, 1])."""
        return float(np.dot(window, window)) / window.size

    def below_floor(self, power: float) -> bool:
        """A window of this ``power`` is silence whatever the model says."""
        return power < self._floor

    def apply_power(self, power: float, probability: float, threshold: float, speaking: bool) -> float:
        """:meth:`apply` for a window whose :meth:`power` is known."""
        if power < self._floor:
            return 0.0
        if not speaking:
            self._level = 0.0
            if probability >= threshold:
                self._level = power  # the window that may open a segment seeds its level
            return probability
        if power < self._level * self._relative:
            return 0.0
        if probability >= threshold:
            self._level += 0.05 * (power - self._level)
        return probability
