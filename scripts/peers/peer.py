"""The same networks as muselab's, written in Keras 3 on the JAX backend, to time a training step.

Usage: KERAS_BACKEND=jax python peer.py MODEL BATCH SECONDS
Prints one JSON line: {"model", "peer", "batch", "train_examples_per_second", "steps"}.

Shapes are those `muselab bench --json` prints as "layers" for the default configuration on
the bundled corpora (mini-bach on the chorales, the others on the Celtic tunes). Data are random
tokens and values of the right shapes: a step's arithmetic does not depend on them. Every model
trains with Adam, as muselab's do; the step is compiled once (XLA through `jax.jit`) and timed
after warm-up, each step waiting for its result as muselab's trainer does on the CPU.
"""

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

RNG = np.random.default_rng(1)


def tokens(batch, steps, vocab):
    return RNG.integers(0, vocab, size=(batch, steps)).astype("int32")


def one_hot(ids, vocab):
    return np.eye(vocab, dtype="float32")[ids]


def minibach(batch):
    """Soprano one-hot (64 steps x 27) -> 400 ReLU -> dropout 0.2 -> 3 voices x 64 steps x ~26."""
    steps, soprano, voices = 64, 27, (26, 25, 26)  # 64 x 77 = 4928 outputs, as muselab's
    inputs = keras.Input((steps * soprano,))
    hidden = layers.Dropout(0.2)(layers.Dense(400, activation="relu")(inputs))
    outputs = []
    for v, vocab in enumerate(voices):
        logits = layers.Dense(steps * vocab, name=f"voice{v}")(hidden)
        outputs.append(layers.Reshape((steps, vocab))(logits))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True)] * 3,
        jit_compile=True,
    )
    x = one_hot(tokens(batch, steps, soprano), soprano).reshape(batch, -1)
    ys = [tokens(batch, steps, vocab) for vocab in voices]
    return lambda: model.train_on_batch(x, ys)


def lstm(batch):
    """Embedding 39 x 32 -> LSTM 256 -> LSTM 256 -> dense 38 per step, 64 steps."""
    steps, vocab = 64, 38
    inputs = keras.Input((steps,), dtype="int32")
    h = layers.Embedding(vocab + 1, 32)(inputs)
    h = layers.LSTM(256, return_sequences=True)(h)
    h = layers.LSTM(256, return_sequences=True)(h)
    model = keras.Model(inputs, layers.Dense(vocab)(h))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    x, y = tokens(batch, steps, vocab + 1), tokens(batch, steps, vocab)
    return lambda: model.train_on_batch(x, y)


class Sample(layers.Layer):
    """z = mean + exp(log_var / 2) * noise, with the KL divergence added to the loss."""

    def call(self, mean, log_var):
        kl = -0.5 * ops.mean(ops.sum(1 + log_var - mean**2 - ops.exp(log_var), axis=-1))
        self.add_loss(0.2 * kl)
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * noise

    def build(self, *args):
        self.seed_generator = keras.random.SeedGenerator(1)


def rnn_vae(batch):
    """MusicVAE-style: BiLSTM 256 encoder over 32 one-hot steps (38) -> z (32) -> tanh initial
    state -> LSTM 256 decoder reading (previous token + start, z) = 71 per step -> dense 38."""
    steps, vocab, latent = 32, 38, 32
    notes = keras.Input((steps, vocab))
    previous = keras.Input((steps, vocab + 1))
    encoded = layers.Bidirectional(layers.LSTM(256))(notes)
    mean, log_var = layers.Dense(latent)(encoded), layers.Dense(latent)(encoded)
    z = Sample()(mean, log_var)
    state = layers.Dense(512, activation="tanh")(z)
    h0, c0 = state[:, :256], state[:, 256:]
    repeated = layers.RepeatVector(steps)(z)
    decoder_in = layers.Concatenate()([previous, repeated])
    h = layers.LSTM(256, return_sequences=True)(decoder_in, initial_state=[h0, c0])
    model = keras.Model([notes, previous], layers.Dense(vocab)(h))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    y = tokens(batch, steps, vocab)
    x = [one_hot(y, vocab), one_hot(tokens(batch, steps, vocab + 1), vocab + 1)]
    return lambda: model.train_on_batch(x, y)


def gan_pair(
    generator,
    discriminator,
    real_batch,
    noise_batch,
    feature_matching,
    binarize=False,
    instance_noise=0.0,
):
    """One D step (real towards 1, G's detached samples towards 0) and one G step, both Adam
    (beta_1 = 0.5), as a single compiled JAX function over Keras's stateless calls. Both run
    in training mode (D's dropout on); `binarize` draws G's cells on/off with a straight-through
    gradient and `instance_noise` blurs every bar D sees, as muselab's GAN does by default."""
    g_opt = keras.optimizers.Adam(1e-3, beta_1=0.5)
    d_opt = keras.optimizers.Adam(1e-3, beta_1=0.5)
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def shape(fake, key):
        """What D is shown of G's output: drawn on/off with a straight-through gradient and
        blurred by instance noise, where the model does so (muselab's GAN defaults)."""
        if binarize:
            draws = jax.random.uniform(jax.random.fold_in(key, 1), fake.shape)
            hard = (draws < fake).astype(fake.dtype)
            fake = hard + fake - jax.lax.stop_gradient(fake)
        return blur(fake, jax.random.fold_in(key, 2))

    def blur(x, key):
        if instance_noise > 0:
            x = x + instance_noise * jax.random.normal(jax.random.fold_in(key, 3), x.shape)
        return x

    def d_loss(d_tv, d_ntv, g_tv, g_ntv, real, z, key):
        fake, _ = generator.stateless_call(g_tv, g_ntv, z, training=True)
        fake = jax.lax.stop_gradient(shape(fake, key))
        real = blur(real, jax.random.fold_in(key, 4))
        (real_logits, _), d_ntv = discriminator.stateless_call(d_tv, d_ntv, real, training=True)
        (fake_logits, _), d_ntv = discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
        loss = bce(ops.ones_like(real_logits), real_logits) + bce(
            ops.zeros_like(fake_logits), fake_logits
        )
        return loss, d_ntv

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, real, z, key):
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, z, training=True)
        fake = shape(fake, key)
        real = blur(real, key)
        (fake_logits, fake_features), _ = discriminator.stateless_call(
            d_tv, d_ntv, fake, training=True
        )
        if feature_matching:
            (_, real_features), _ = discriminator.stateless_call(
                d_tv, d_ntv, real, training=True
            )
            gap = ops.mean(jax.lax.stop_gradient(real_features), 0) - ops.mean(fake_features, 0)
            return ops.mean(gap**2), g_ntv
        return bce(ops.ones_like(fake_logits), fake_logits), g_ntv

    @jax.jit
    def step(state, real, z, key):
        g_tv, g_ntv, g_ov, d_tv, d_ntv, d_ov = state
        d_key, g_key = jax.random.split(key)
        (dl, d_ntv), d_grads = jax.value_and_grad(d_loss, has_aux=True)(
            d_tv, d_ntv, g_tv, g_ntv, real, z, d_key
        )
        d_tv, d_ov = d_opt.stateless_apply(d_ov, d_grads, d_tv)
        (gl, g_ntv), g_grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_tv, g_ntv, d_tv, d_ntv, real, z, g_key
        )
        g_tv, g_ov = g_opt.stateless_apply(g_ov, g_grads, g_tv)
        return (g_tv, g_ntv, g_ov, d_tv, d_ntv, d_ov), dl + gl

    values = lambda vs: [v.value for v in vs]  # noqa: E731
    state = [
        (
            values(generator.trainable_variables),
            values(generator.non_trainable_variables),
            values(g_opt.variables),
            values(discriminator.trainable_variables),
            values(discriminator.non_trainable_variables),
            values(d_opt.variables),
        )
    ]

    keys = [jax.random.PRNGKey(1)]

    def run():
        keys[0], key = jax.random.split(keys[0])
        state[0], loss = step(state[0], real_batch, noise_batch, key)
        return float(loss)

    return run


def crnn_gan(batch):
    """C-RNN-GAN: G = LSTM 128 -> LSTM 128 -> dense 4 per step from 8 noise values per step;
    D = BiLSTM 128 -> BiLSTM 128 -> dense 1 per step, logits and features averaged over the 32
    steps; G trains by feature matching."""
    steps, noise, features = 32, 8, 4
    z_in = keras.Input((steps, noise))
    h = layers.LSTM(128, return_sequences=True)(z_in)
    h = layers.LSTM(128, return_sequences=True)(h)
    generator = keras.Model(z_in, layers.Dense(features, activation="tanh")(h))
    x_in = keras.Input((steps, features))
    h = layers.Bidirectional(layers.LSTM(128, return_sequences=True))(x_in)
    h = layers.Bidirectional(layers.LSTM(128, return_sequences=True))(h)
    logits = ops.mean(layers.Dense(1)(h), axis=1)
    discriminator = keras.Model(x_in, [logits, ops.mean(h, axis=1)])
    real = RNG.uniform(-1, 1, size=(batch, steps, features)).astype("float32")
    z = RNG.normal(size=(batch, steps, noise)).astype("float32")
    return gan_pair(generator, discriminator, real, z, feature_matching=True)


def gan(batch):
    """GAN of one-bar piano rolls, as muselab's defaults: G 64 -> 256 -> 512 -> 736 (ReLU, then
    sigmoid), its cells drawn on/off (straight-through); D 736 -> 512 -> 256 -> 1, leaky ReLU
    (0.2) hidden layers each followed by dropout 0.5; instance noise 0.4 on every bar D sees."""
    z_in = keras.Input((64,))
    h = layers.Dense(256, activation="relu")(z_in)
    h = layers.Dense(512, activation="relu")(h)
    generator = keras.Model(z_in, layers.Dense(736, activation="sigmoid")(h))
    x_in = keras.Input((736,))
    leaky = lambda x: keras.activations.leaky_relu(x, 0.2)  # noqa: E731
    h = layers.Dropout(0.5)(layers.Dense(512, activation=leaky)(x_in))
    h = layers.Dropout(0.5)(layers.Dense(256, activation=leaky)(h))
    discriminator = keras.Model(x_in, [layers.Dense(1)(h), h])
    real = (RNG.uniform(size=(batch, 736)) < 0.05).astype("float32")
    z = RNG.normal(size=(batch, 64)).astype("float32")
    return gan_pair(
        generator, discriminator, real, z, feature_matching=False, binarize=True, instance_noise=0.4
    )


MODELS = {
    "minibach": minibach,
    "lstm": lstm,
    "rnn-vae": rnn_vae,
    "crnn-gan": crnn_gan,
    "gan": gan,
}


def main():
    model, batch, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    step = MODELS[model](batch)
    for _ in range(3):  # compilation, then the allocator's warm-up
        jax.block_until_ready(step())
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or steps < 5:
        jax.block_until_ready(step())
        steps += 1
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "model": model,
                "peer": f"keras {keras.__version__} on jax {jax.__version__} (cpu)",
                "batch": batch,
                "train_examples_per_second": steps * batch / elapsed,
                "steps": steps,
            }
        )
    )


if __name__ == "__main__":
    main()
