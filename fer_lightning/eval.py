"""`python -m fer_lightning.eval ckpt_path=PATH`: see fer_lightning.evaluate."""

from fer_lightning.evaluate import main

if __name__ == "__main__":
    main()
