"""Motion recognition from a wrist-worn accelerometer and gyroscope: BasicMotions (standing,
walking, running, badminton; 6 channels x 100 steps), with a bidirectional GRU.

    python examples/motion_recognition.py [--seeds 3] [--quick]

Prints the test accuracy on the archive's split (published: MiniRocket 100%).
Hyperparameters: ``classification.CONFIGS``.
"""

from classification import main

if __name__ == "__main__":
    main("basic_motions")
