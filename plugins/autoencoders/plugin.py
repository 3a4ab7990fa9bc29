"""Registers the autoencoders. Imports nothing heavy: each loads on first use."""

import dpzoo

HERE = "dpzoo.plugins.autoencoders"


@dpzoo.hookimpl
def dpzoo_register_models(register):
    register(
        "linear_ae",
        f"{HERE}.linear:LinearAutoencoder",
        summary="Linear undercomplete autoencoder, h = W_e x + b_e, r = W_d h + b_d; spans PCA's subspace (ch. 13)",
    )
    register(
        "ae", f"{HERE}.deep:DeepAutoencoder", summary="Deep MLP autoencoder, nonlinear generalisation of PCA (ch. 13)"
    )
    register(
        "conv_ae",
        f"{HERE}.conv:ConvAutoencoder",
        summary="Convolutional autoencoder: stride-2 convolutions, transposed convolutions back (ch. 13)",
    )
    register(
        "dae",
        f"{HERE}.denoising:DenoisingAutoencoder",
        summary="Denoising autoencoder: Gaussian or masking corruption, loss against the clean x (ch. 13)",
    )
    register(
        "sparse_ae",
        f"{HERE}.sparse:SparseAutoencoder",
        summary="Sparse autoencoder: L1 penalty lambda sum |h_i| on the code, its own loss term (ch. 13)",
    )


@dpzoo.hookimpl
def dpzoo_register_losses(register):
    register(
        "reconstruction_l1",
        f"{HERE}.sparse:ReconstructionL1",
        summary="Reconstruction error plus the code's L1 penalty, logged apart (ch. 13)",
    )
