"""The blog seed's worked example: f = (w*x - y)^2 at w=1, x=2, y=3.

Builds the graph, inserts the gradient nodes with build_grad (sg.grad), and
prints the gradient table over the reverse topological order [f, l2, y, l1, x, w],
which the seed gives as [1, -2, 2, -2, -2, -4].

    python examples/seed_backprop.py
"""

import symgraph as sg


def main() -> None:
    with sg.Graph() as g:
        w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
        l1 = w * x
        l2 = l1 - y
        f = l2 ** 2
        forward_nodes = len(g)
        order = {"f": f, "l2": l2, "y": y, "l1": l1, "x": x, "w": w}
        grads = sg.grad(f, list(order.values()))
        feed = {"w": 1.0, "x": 2.0, "y": 3.0}
        values = sg.evaluate(list(order.values()), feed)
        gvalues = sg.evaluate(grads, feed)

    print(f"graph: {forward_nodes} forward nodes, {len(g)} after build_grad")
    print(f"{'node':<6}{'value':>8}{'df/dnode':>10}")
    for name, v, gv in zip(order, values, gvalues):
        print(f"{name:<6}{float(v):>8g}{float(gv):>10g}")


if __name__ == "__main__":
    main()
