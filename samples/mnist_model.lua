-- The network of samples/beautiful_mnist.lua (tinygrad's examples/beautiful_mnist.py), shared
-- with tests/bench/train_step.lua. Returns a constructor: model = require(...)(mg); model(x).
return function(mg)
  local nn = mg.nn
  local layers = {
    nn.Conv2d(1, 32, 5), nn.Conv2d(32, 32, 5), nn.BatchNorm(32),
    nn.Conv2d(32, 64, 3), nn.Conv2d(64, 64, 3), nn.BatchNorm(64),
    nn.Linear(576, 10),
  }
  local model = { layers = layers }
  return setmetatable(model, {
    __call = function(_, x)
      local l = layers
      x = l[3](l[2](l[1](x):relu()):relu()):max_pool2d(2)
      x = l[6](l[5](l[4](x):relu()):relu()):max_pool2d(2)
      return l[7](x:flatten(2))
    end,
  })
end
