"""Building blocks of the world models: pixel encoders, projector heads, the AdaLN-zero causal
transformer and the action-block encoder (the last two as in the released LeWM code). Plain
torch: no torchvision or timm, which have no CPU build on the wmbench machines."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_NORMS = ("imagenet", "symmetric")


def pixels_to_float(pixels: torch.Tensor, norm: str = "symmetric") -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W).

    Args:
        norm: ``"symmetric"`` maps [0, 255] to [-1, 1]; ``"imagenet"`` scales to [0, 1] and
            standardises each channel with the ImageNet mean and std (the released LeWM's
            preprocessing).
    """
    if pixels.dtype != torch.uint8:
        raise TypeError(f"pixels must be uint8, got {pixels.dtype}")
    x = pixels.movedim(-1, -3).float()
    if norm == "symmetric":
        return x.div(127.5).sub(1.0)
    if norm == "imagenet":
        mean = x.new_tensor(IMAGENET_MEAN)[:, None, None]
        std = x.new_tensor(IMAGENET_STD)[:, None, None]
        return x.div(255.0).sub(mean).div(std)
    raise ValueError(f"unknown pixel normalisation {norm!r}; valid: {', '.join(PIXEL_NORMS)}")


class MLPHead(nn.Module):
    """Linear -> BatchNorm1d -> GELU -> Linear (LeWM's projector and predictor heads).

    BatchNorm normalises over every leading dimension, so (..., D) inputs are accepted.
    """

    def __init__(self, dim_in: int, hidden: int, dim_out: int, eps: float = 1e-5):
        super().__init__()
        self.fc1 = nn.Linear(dim_in, hidden)
        self.norm = nn.BatchNorm1d(hidden, eps=eps)
        self.fc2 = nn.Linear(hidden, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[:-1]
        h = self.norm(self.fc1(x.reshape(-1, x.shape[-1])))
        return self.fc2(F.gelu(h)).reshape(*shape, -1)


class Attention(nn.Module):
    """Multi-head self-attention with an optional boolean mask (True = may attend).

    Args:
        pre_norm: start with an affine LayerNorm of the input (the released LeWM predictor's
            ``Attention`` does; the ViT's does not, its block norms first).
        qkv_bias: a bias on the query/key/value projection (the ViT has one, the released
            predictor's ``to_qkv`` has none).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        dim_head: int,
        dropout: float = 0.0,
        pre_norm: bool = False,
        qkv_bias: bool = True,
    ):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.norm = nn.LayerNorm(dim) if pre_norm else nn.Identity()
        self.qkv = nn.Linear(dim, 3 * heads * dim_head, bias=qkv_bias)
        self.out = nn.Linear(heads * dim_head, dim)
        self.out_drop = nn.Dropout(dropout)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(x)
        b, t, _ = x.shape
        if t == 1:  # a token attends only to itself: softmax is 1, the output is its value
            inner = self.heads * self.dim_head
            bias = None if self.qkv.bias is None else self.qkv.bias[2 * inner :]
            v = F.linear(x, self.qkv.weight[2 * inner :], bias)
            return self.out_drop(self.out(v))
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out_drop(self.out(y.transpose(1, 2).reshape(b, t, -1)))


class FeedForward(nn.Module):
    """The released predictor's MLP: affine LayerNorm -> Linear -> GELU -> Dropout -> Linear ->
    Dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ViTBlock(nn.Module):
    """Pre-norm transformer block (the encoder's)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, dim // heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTEncoder(nn.Module):
    """ViT over non-overlapping patches; returns the CLS token, (N, dim)."""

    def __init__(
        self, image_size: int, patch_size: int, dim: int, depth: int, heads: int, mlp_dim: int
    ):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch {patch_size}")
        n = (image_size // patch_size) ** 2
        self.patch = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        self.cls = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, 1, dim), std=0.02))
        self.pos = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, n + 1, dim), std=0.02))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads, mlp_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.out_dim = dim
        vit_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], 1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 0])


class CNNEncoder(nn.Module):
    """Strided conv stack (k4 s2, GroupNorm, GELU) down to 4x4, then a linear layer: (N, dim).

    The fast CPU default: a 64 px frame costs about 6 MFLOP with widths (16, 32, 64, 64).
    """

    def __init__(self, image_size: int, widths: tuple[int, ...], dim: int):
        super().__init__()
        layers, c, side = [], 3, image_size
        for w in widths:
            layers += [nn.Conv2d(c, w, 4, stride=2, padding=1), nn.GroupNorm(1, w), nn.GELU()]
            c, side = w, side // 2
        if side < 1:
            raise ValueError(f"image_size {image_size} is too small for {len(widths)} layers")
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(c * side * side, dim)
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).flatten(1))


def cnn_widths_for(image_size: int, widths: tuple[int, ...]) -> tuple[int, ...]:
    """Adds stride-2 layers (repeating the last width) until frames are 4x4 or smaller."""
    widths, side = tuple(widths), image_size >> len(widths)
    while side > 4:
        widths, side = widths + (widths[-1],), side // 2
    return widths


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class AdaLNBlock(nn.Module):
    """The released LeWM predictor block: DiT's AdaLN-zero around an attention and an MLP that
    each start with their own affine LayerNorm,

        x = x + gate_msa * Attention(modulate(LN(x), shift_msa, scale_msa))
        x = x + gate_mlp * FeedForward(modulate(LN(x), shift_mlp, scale_mlp)),

    with the outer LN not affine (eps 1e-6), ``to_qkv`` without bias and the modulation
    (SiLU -> Linear(dim, 6 dim)) zero-initialised, so each block starts as the identity.
    """

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads, dim_head, dropout, pre_norm=True, qkv_bias=False)
        self.mlp = FeedForward(dim, mlp_dim, dropout)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        s1, sc1, g1, s2, sc2, g2 = self.ada(c).chunk(6, dim=-1)
        x = x + g1 * self.attn(modulate(self.norm1(x), s1, sc1), mask)
        return x + g2 * self.mlp(modulate(self.norm2(x), s2, sc2))


class CausalPredictor(nn.Module):
    """Causal AdaLN-zero transformer over frame latents, conditioned per frame on the action
    block taken after it: z (N, T, D), c (N, T, D) -> predicted next latents (N, T, D).

    Frame t attends to frames max(0, t - history + 1) .. t, the same window at training and
    at planning time.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        dim_head: int,
        mlp_dim: int,
        dropout: float,
        max_len: int,
        history: int,
    ):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, max_len, dim))  # std 1, as released
        self.blocks = nn.ModuleList(
            AdaLNBlock(dim, heads, dim_head, mlp_dim, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.history, self.max_len = history, max_len

    def mask(self, t: int, device: torch.device) -> torch.Tensor | None:
        if t == 1:
            return None
        i = torch.arange(t, device=device)
        return (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < self.history)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        t = z.shape[1]
        if t > self.max_len:
            raise ValueError(f"predictor input has {t} frames, at most {self.max_len}")
        x = z + self.pos[:, :t]
        mask = self.mask(t, z.device)
        for block in self.blocks:
            x = block(x, c, mask)
        return self.norm(x)


class ActionEncoder(nn.Module):
    """LeWM's action-block embedder (the released ``Embedder``): Conv1d(A, 10, kernel 1) over
    time, then Linear(10, 4D) -> SiLU -> Linear(4D, D). (..., A) -> (..., D)."""

    def __init__(self, action_dim: int, dim: int, smoothed_dim: int = 10):
        super().__init__()
        self.smooth = nn.Conv1d(action_dim, smoothed_dim, kernel_size=1)
        self.mlp = nn.Sequential(
            nn.Linear(smoothed_dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, dim)
        )

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        # kernel 1: every step is smoothed on its own, so leading dims fold into the batch
        x = self.smooth(a.reshape(-1, a.shape[-1], 1)).reshape(*a.shape[:-1], -1)
        return self.mlp(x)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (frozen copies such as TD-MPC2's EMA target heads are not counted,
    as the papers count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def vit_init(module: nn.Module) -> None:
    """The HF ViT's initialisation, for the ViT encoder only: linear and conv weights
    truncated normal (std 0.02, biases zero), LayerNorms (1, 0). Everything outside the ViT
    keeps PyTorch's default initialisation, as released."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
