"""A starter agent for pong on RL Arena: work out where the ball will reach our paddle (bounces off
the top and bottom walls included) and move there; while the ball goes away, wait in the middle.
Standard library only; change anything you like.

The platform calls `agent(observation, configuration)` once per step and plays what it returns.
Both players act in every step.

observation:
    observation  [ball_x, ball_y, ball_vx, ball_vy, paddle_0_y, paddle_1_y, score_0, score_1]
    player       0 (the paddle on the left, x = 0.05) or 1 (on the right, x = 0.95)
The field is the unit square with y growing downwards. Actions: 0 up (y gets smaller), 1 stay,
2 down. A paddle is 0.2 high and moves 0.05 a step; the ball moves 0.02 a step. 11 points win.
"""

UP, STAY, DOWN = 0, 1, 2
PADDLE_X = (0.05, 0.95)
PADDLE_SPEED = 0.05
BALL_RADIUS = 0.02


def reflected(y):
    """Where a ball travelling to height `y` really is, after bouncing off the walls."""
    low, high = BALL_RADIUS, 1.0 - BALL_RADIUS
    span = high - low
    folded = (y - low) % (2 * span)
    return low + (folded if folded <= span else 2 * span - folded)


def target_y(ball_x, ball_y, velocity_x, velocity_y, paddle_x):
    """The height at which the ball reaches x = paddle_x, or the middle if it is moving away."""
    towards_us = (paddle_x - ball_x) * velocity_x > 0
    if not towards_us or velocity_x == 0:
        return 0.5
    steps = (paddle_x - ball_x) / velocity_x
    return reflected(ball_y + velocity_y * steps)


def agent(observation, configuration):
    ball_x, ball_y, velocity_x, velocity_y, paddle_0, paddle_1, _score_0, _score_1 = observation["observation"]
    player = observation["player"]
    paddle_y = paddle_1 if player == 1 else paddle_0
    target = target_y(ball_x, ball_y, velocity_x, velocity_y, PADDLE_X[player])
    if abs(target - paddle_y) < PADDLE_SPEED / 2:
        return STAY
    return DOWN if target > paddle_y else UP
