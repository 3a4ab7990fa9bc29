"""The Deep Set Prediction Network, DSPN (Zhang, Hare and Prugel-Bennett, 2019; section 1.3.2).

The book's set predictor finds the output set by optimisation inside the
forward pass,

    Y^ = f_theta(X) = argmin_Y || h(X; theta_h) - g(Y; theta_g) ||_2,

with h encoding the input and g a permutation-invariant set encoder. DSPN
runs T steps of gradient descent on the representation loss

    L_repr(Y) = || g(Y, m) - z ||^2,   z = h(X),

from a learned initial set Y^(0) (N slots of d features) and presence m^(0):

    Y^(t+1) = Y^(t) - eta dL_repr/dY^(t),
    m^(t+1) = clamp(m^(t) - eta dL_repr/dm^(t), 0, 1).

Training differentiates through the T steps (``create_graph=True``), so the
outer set loss, averaged over Y^(1..T) (see ``losses``), trains h, g and the
initial set. In evaluation the inner loop still needs gradients with respect
to Y: the forward re-enables them (the trainer evaluates under
``torch.no_grad()``, not ``inference_mode``), builds no graph through the
steps, and may take more of them (``eval_inner_steps``). Steps past the T it
was trained with are an extrapolation: with a fixed eta, gradient descent on
L_repr can overshoot near the minimum and climb away from it (the zoo's MNIST
model, trained with 5, did after about 7). So by default
(``eval_backtracking``) each of those extra steps is taken only where it does
not raise an example's L_repr; where it would, that example stays and halves
its own step size (it never grows back: where plain steps would not have
diverged, they can end lower). The first T steps are always the trained
update rule. On the pixel-set task h and g are one encoder
(``shared_encoder``): the model auto-encodes.

g is permutation-invariant, so its gradient is permutation-equivariant:
permuting the initial slots permutes the output slots the same way.

How g reads the presence m (``pool_all_slots``). With ``False``, g pools only
the slots with m_i > 0 (the set encoder's mask), so FSPool's relative ranks
r_i = (i - 1)/(n - 1) count n = #{i : m_i > 0}: L_repr jumps whenever a slot's
presence reaches 0 in the inner loop (every rank moves), and a slot clamped to
m_i = 0 gets no gradient again. With ``True`` (the DSPN paper's FSEncoder),
g pools all N slots and m is only an input feature, as is the input set padded
to N slots with the all-zero element [0, 0, 0]; L_repr is then a continuous,
piecewise-smooth function of (Y, m), which is what gradient descent on it needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from .encoder import SetEncoder
from .masks import SetError, check_sets
from .set_autoencoder import SetPredictionConfig, SetPredictor


class DSPNConfig(SetPredictionConfig):
    inner_steps: int = Field(10, ge=1, description="T, gradient steps of the inner loop in training")
    eval_inner_steps: int | None = Field(None, ge=1, description="Inner steps in evaluation; unset: inner_steps")
    inner_lr: float = Field(4.0, gt=0.0, description="eta, the inner loop's step size on Y and m")
    shared_encoder: bool = Field(True, description="Use g as the input encoder h too (a set auto-encoder)")
    initial_presence: float = Field(
        0.5, ge=0.0, le=1.0, description="Starting value of the learned initial presence m^(0)"
    )
    pool_all_slots: bool = Field(
        True,
        description="g pools all N slots, presence only a feature (DSPN's encoder, continuous in m); False: only slots with m > 0",
    )
    eval_backtracking: bool = Field(
        True,
        description="Evaluation steps past inner_steps never raise an example's L_repr: a step that would is not taken "
        "and that example's step size halves (False: plain steps, which can diverge past the trained count)",
    )


class DSPN(SetPredictor):
    """Set prediction by gradient descent on ||g(Y, m) - h(X)||^2 inside the forward pass."""

    Config = DSPNConfig
    registered_name = "dspn"

    def __init__(self, config: DSPNConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        # g reads each slot's coordinates and its presence
        self.g = SetEncoder(c.element_dim + 1, c.encoder)
        self.h = self.g if c.shared_encoder else SetEncoder(c.element_dim, c.encoder)
        self.initial_set = nn.Parameter(torch.rand(c.max_elements, c.element_dim))
        self.initial_mask = nn.Parameter(torch.full((c.max_elements,), c.initial_presence))

    def encode_input(self, x: Tensor, mask: Tensor) -> Tensor:
        """z = h(X); the shared encoder reads the input's mask as its presence feature."""
        if not self.config.shared_encoder:
            return self.h.encode(x, mask)
        if self.config.pool_all_slots:
            x, mask = self._padded(x * mask.unsqueeze(-1), mask)
        return self.encode_set(x * mask.unsqueeze(-1), mask)

    def encode_set(self, Y: Tensor, m: Tensor) -> Tensor:
        """g(Y, m): the presence is a feature of each slot and, unless ``pool_all_slots``, the pool's mask."""
        slots = torch.ones_like(m) if self.config.pool_all_slots else m
        return self.g.encode(torch.cat([Y, m.unsqueeze(-1)], dim=-1), slots)

    def representation_loss(self, Y: Tensor, m: Tensor, z: Tensor) -> Tensor:
        """L_repr per example [B]: ||g(Y, m) - z||^2."""
        return (self.encode_set(Y, m) - z).pow(2).sum(dim=-1)

    def _padded(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The input set and mask padded with all-zero slots to the model's N slots."""
        M, N = x.shape[1], self.config.max_elements
        if M > N:
            kept = mask[:, N:] > 0
            if bool(kept.any()):
                raise SetError(
                    f"dspn input: a set has elements in slot {N + int(kept.any(0).nonzero()[0])} or beyond, more than the "
                    f"model's max_elements = {N}: build the model with max_elements >= the largest set"
                )
            return x[:, :N], mask[:, :N]  # only padding beyond N
        return F.pad(x, (0, 0, 0, N - M)), F.pad(mask, (0, N - M))

    def forward(self, batch) -> dict[str, Tensor]:
        x = self.inputs(batch)
        mask = check_sets(x, batch.get("mask"), "dspn input")
        z = self.encode_input(x, mask)
        return {**self.inner_loop(z), "input_mask": mask}

    def inner_loop(self, z: Tensor, steps: int | None = None) -> dict[str, Tensor]:
        """T steps from the learned initial set; every intermediate set and L_repr before and after each step."""
        c = self.config
        differentiable = self.training and torch.is_grad_enabled()
        if steps is None:
            steps = c.inner_steps if self.training else (c.eval_inner_steps or c.inner_steps)
        if steps < 1:
            raise SetError(f"dspn inner_loop: steps={steps}; the inner loop takes at least one step")
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                "dspn: the inner loop takes gradient steps on the set, which torch.inference_mode() forbids; "
                "evaluate under torch.no_grad() (as dpzoo's trainer does)"
            )
        B = len(z)
        Y = self.initial_set.unsqueeze(0).expand(B, -1, -1)
        m = self.initial_mask.clamp(0, 1).unsqueeze(0).expand(B, -1)
        # the steps training takes; in evaluation, those past them are safeguarded (eval_backtracking)
        plain = steps if differentiable or not c.eval_backtracking else min(steps, c.inner_steps)
        sets, masks, losses = [], [], []
        with torch.enable_grad():  # evaluation runs under no_grad; the inner loop needs d/dY all the same
            if not differentiable:
                z = z.detach()
            for _ in range(plain):
                if not differentiable:
                    Y, m = Y.detach().requires_grad_(True), m.detach().requires_grad_(True)
                loss = self.representation_loss(Y, m, z)
                dY, dm = torch.autograd.grad(loss.sum(), (Y, m), create_graph=differentiable)
                Y = Y - c.inner_lr * dY
                m = (m - c.inner_lr * dm).clamp(0, 1)
                sets.append(Y), masks.append(m), losses.append(loss)
            if steps > plain:
                Y, m, final = self._backtracking_steps(Y, m, z, steps - plain, sets, masks, losses)
            else:
                final = self.representation_loss(Y, m, z)
        losses.append(final)
        out = {
            "set": Y,
            "mask": m,
            "trajectory": torch.stack(sets, dim=1),
            "trajectory_mask": torch.stack(masks, dim=1),
            "representation_loss": final,
            "inner_losses": torch.stack(losses, dim=1),
        }
        return out if differentiable else {k: v.detach() for k, v in out.items()}

    def _backtracking_steps(self, Y: Tensor, m: Tensor, z: Tensor, steps: int, sets: list, masks: list, losses: list):
        """Evaluation steps that never raise L_repr: each example keeps its own step size, halved on a refused step.

        A step is taken where L_repr(Y - eta_b dY, m - eta_b dm) <= L_repr(Y, m) (a NaN is refused too); elsewhere
        the example stays put and its eta_b halves, so it tries a shorter step from the same point next time. Each
        step costs one pass of g and its gradient, as a plain step does.
        """
        eta = torch.full((len(z),), self.config.inner_lr, dtype=z.dtype, device=z.device)
        Y, m = Y.detach().requires_grad_(True), m.detach().requires_grad_(True)
        loss = self.representation_loss(Y, m, z)
        dY, dm = torch.autograd.grad(loss.sum(), (Y, m))
        for _ in range(steps):
            losses.append(loss)
            Y_next = (Y - eta[:, None, None] * dY).detach().requires_grad_(True)
            m_next = (m - eta[:, None] * dm).clamp(0, 1).detach().requires_grad_(True)
            loss_next = self.representation_loss(Y_next, m_next, z)
            dY_next, dm_next = torch.autograd.grad(loss_next.sum(), (Y_next, m_next))
            taken = loss_next <= loss
            eta = torch.where(taken, eta, eta / 2)
            Y, m = torch.where(taken[:, None, None], Y_next, Y), torch.where(taken[:, None], m_next, m)
            dY, dm = torch.where(taken[:, None, None], dY_next, dY), torch.where(taken[:, None], dm_next, dm)
            loss = torch.where(taken, loss_next, loss)
            sets.append(Y)
            masks.append(m)
        return Y.detach(), m.detach(), loss.detach()
