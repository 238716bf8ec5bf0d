"""get_params / set_params of the scikit-learn estimator contract, without depending on scikit-learn.

The constructor of an estimator stores its arguments as given (no validation, no conversion: `fit` validates),
so that ``type(est)(**est.get_params())`` rebuilds it and `sklearn.base.clone` works.
"""

from __future__ import annotations

import inspect

__all__ = ["Params"]


class Params:
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values()
                      if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments (validated at the next fit); an unknown name is refused."""
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                raise ValueError(f"{name}={value!r} is not allowed: {type(self).__name__} has no such parameter "
                                 f"(its parameters: {', '.join(names)})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, inspect.Parameter.empty) is not v
                   and not _equal(defaults.get(k), v)]
        return f"{type(self).__name__}({', '.join(changed)})"


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd types: shown as changed
        return False
