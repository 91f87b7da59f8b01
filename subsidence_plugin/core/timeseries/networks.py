"""The recurrent networks of point displacement series (seeds 001 and 004). The windowed ones map a window of
monthly step features (batch, window, features) to the next month's scaled change of displacement (batch,); the
physics-constrained RNN maps a whole sequence (batch, months, inputs + 1) to the scaled cumulative displacement of every
month relative to the point's anchor month (batch, months)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn


class SeriesLstm(nn.Module):
    """Seed 001: ``layers`` LSTM layers of ``hidden`` units (tanh inside the cells; the seed's "hidden layers 8"
    read as 8 units in one layer) and a linear output. With 4 layers of 64 units over 36 months it is seed 004's
    GW-LSTM (case 1), whose step features carry the geographically weighted inputs as well."""

    def __init__(self, features: int, hidden: int = 8, layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.output = nn.Linear(hidden, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.lstm(windows)
        return self.output(sequence[:, -1]).squeeze(-1)


class AttentionGru(nn.Module):
    """Seed 004 case 2 (AM-GRU): ``layers`` GRU layers, additive attention (Bahdanau et al. 2014) over the
    window's time steps, and a linear output of the attended state with the last one."""

    def __init__(self, features: int, hidden: int = 32, layers: int = 3):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=layers, batch_first=True)
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
        self.output = nn.Linear(2 * hidden, 1)

    def attend(self, windows: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(predictions (batch,), attention weights (batch, window), oldest month first)."""
        sequence, _ = self.gru(windows)
        weights = torch.softmax(self.score(sequence).squeeze(-1), dim=1)
        context = (weights.unsqueeze(-1) * sequence).sum(dim=1)
        return self.output(torch.cat([context, sequence[:, -1]], dim=1)).squeeze(-1), weights

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.attend(windows)[0]


class PhysicsRnn(nn.Module):
    """Seed 004 case 3: Terzaghi's effective stress in the recurrence. Inputs per month x_t = [change of
    effective stress -gamma_w dh in each aquifer (scaled), compressible thickness H (scaled)] (``inputs`` values);
    state
    S_t = tanh(S_{t-1} + W_f^T x_t / E^n + b_f) of ``hidden`` units (the slides' "hidden layers 7" read as 7 state
    units of the one recurrence they write); output y_t = W_g S_t + b_g, the cumulative displacement. E > 0 is
    trainable (kept as log E), the non-linearity n trainable (``exponent`` None, starting at 1) or fixed. The
    last input channel marks each point's anchor month (1 there, else 0): the output is y_t - y_anchor."""

    def __init__(self, hidden: int = 7, exponent: Optional[float] = None, inputs: int = 2):
        super().__init__()
        self.stress = nn.Linear(inputs, hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.log_modulus = nn.Parameter(torch.tensor(1.0))
        if exponent is None:
            self.exponent = nn.Parameter(torch.tensor(1.0))
        else:
            self.register_buffer("exponent", torch.tensor(float(exponent)))
        self.output = nn.Linear(hidden, 1)

    def modulus(self) -> Tuple[float, float]:
        """(E, n) as fitted; E in units of the scaled stress input (only W_f / E^n is determined by the data)."""
        return float(torch.exp(self.log_modulus.detach())), float(self.exponent.detach())

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        drive = self.stress(sequence[..., :-1]) / torch.exp(self.log_modulus * self.exponent) + self.bias
        state = torch.zeros(sequence.shape[0], drive.shape[2], dtype=drive.dtype, device=drive.device)
        states = []
        for t in range(sequence.shape[1]):
            state = torch.tanh(state + drive[:, t])
            states.append(state)
        output = self.output(torch.stack(states, dim=1)).squeeze(-1)
        return output - (output * sequence[..., -1]).sum(dim=1, keepdim=True)


NETWORKS = {"lstm": SeriesLstm, "gw_lstm": SeriesLstm, "attention_gru": AttentionGru}
