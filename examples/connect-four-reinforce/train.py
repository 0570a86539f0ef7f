"""Train the connect-four policy by REINFORCE against the random house agent, on the platform's rules.

    .venv/bin/python examples/connect-four-reinforce/train.py [--iterations 600] [--out weights.npz]

Each iteration plays a batch of episodes with `rlarena.envs.make("connect-four", "house:random")`
(sides alternate), then follows the policy gradient of the discounted result (+1 win, 0 draw,
-1 loss) minus the batch's mean, with Adam. Seeded: the same arguments give the same weights.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from policy import forward, initial_weights  # the example's own module, found beside this file

from rlarena import envs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--episodes", type=int, default=64, help="episodes per iteration")
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--gamma", type=float, default=0.95, help="discount: quicker wins count more")
    parser.add_argument("--entropy", type=float, default=0.003, help="entropy bonus, keeps exploring")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opponent", default="house:random")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "weights.npz")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    weights = initial_weights(rng)
    adam = Adam(weights, args.learning_rate)
    env = envs.make("connect-four", args.opponent, seed=args.seed)
    started = time.monotonic()
    recent = []
    for iteration in range(1, args.iterations + 1):
        gradient = {name: np.zeros_like(value) for name, value in weights.items()}
        episodes = [play(env, weights, rng) for _ in range(args.episodes)]
        baseline = np.mean([result for _, result in episodes])
        for steps, result in episodes:
            for distance, (x, hidden, probabilities, action) in enumerate(reversed(steps)):
                advantage = (args.gamma**distance) * result - baseline
                accumulate(gradient, weights, (x, hidden, probabilities, action), advantage, args.entropy)
        adam.ascend({name: value / args.episodes for name, value in gradient.items()})
        recent = (recent + [result for _, result in episodes])[-400:]
        if iteration % 10 == 0 or iteration == args.iterations:
            wins = np.mean([result > 0 for result in recent])
            print(
                f"iteration {iteration:4d}  won {wins:6.1%} of the last {len(recent)} games  "
                f"{time.monotonic() - started:6.1f} s",
                flush=True,
            )
    env.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **{name: value.astype(np.float32) for name, value in weights.items()})
    print(f"weights written to {args.out}")


def play(env, weights, rng):
    """One episode with the policy sampling its moves: ([(x, hidden, probabilities, action)], result)."""
    observation, _ = env.reset()
    steps = []
    while True:
        x = observation["observation"].reshape(-1).astype(np.float64)
        hidden, probabilities = forward(weights, x, observation["action_mask"])
        action = int(rng.choice(len(probabilities), p=probabilities))
        steps.append((x, hidden, probabilities, action))
        observation, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return steps, reward


def accumulate(gradient, weights, step, advantage, entropy_bonus):
    """Add the gradient of advantage * log p(action) + entropy_bonus * entropy, by hand."""
    x, hidden, probabilities, action = step
    legal = probabilities > 0
    d_logits = -probabilities * advantage
    d_logits[action] += advantage
    logp = np.log(probabilities[legal])
    entropy = -np.sum(probabilities[legal] * logp)
    d_entropy = np.zeros_like(probabilities)
    d_entropy[legal] = -probabilities[legal] * (logp + entropy)
    d_logits += entropy_bonus * d_entropy
    gradient["w2"] += np.outer(hidden, d_logits)
    gradient["b2"] += d_logits
    d_hidden = (weights["w2"] @ d_logits) * (1.0 - hidden**2)
    gradient["w1"] += np.outer(x, d_hidden)
    gradient["b1"] += d_hidden


class Adam:
    def __init__(self, weights, learning_rate, beta1=0.9, beta2=0.999):
        self.weights, self.learning_rate, self.beta1, self.beta2 = weights, learning_rate, beta1, beta2
        self.m = {name: np.zeros_like(value) for name, value in weights.items()}
        self.v = {name: np.zeros_like(value) for name, value in weights.items()}
        self.t = 0

    def ascend(self, gradient):
        self.t += 1
        for name, g in gradient.items():
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            m_hat = self.m[name] / (1 - self.beta1**self.t)
            v_hat = self.v[name] / (1 - self.beta2**self.t)
            self.weights[name] += self.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)


if __name__ == "__main__":
    main()
