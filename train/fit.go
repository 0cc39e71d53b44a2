package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Fit trains a head on train, monitoring val for early stopping, and returns it
// holding the weights of its best validation epoch. onEpoch, if not nil, sees each
// epoch as it ends.
func Fit(ctx context.Context, cfg Config, trainSet, valSet Data, classes int, onEpoch func(Epoch)) (*Head, Result, error) {
	return fitOne(ctx, cfg, newRows(trainSet, valSet), classes, onEpoch)
}

// Outcome is how one head of FitMany ended: trained, or failed with Err
// (Result then holds the epochs it ran).
type Outcome struct {
	Head   *Head
	Result Result
	Err    error
}

// FitMany trains one head per configuration on the same rows, threads
// (0: one per CPU) at a time. Each head trains start to finish on one
// goroutine with its own weights, draws and buffers and nothing shared but
// the read-only rows, so its result is bit for bit what Fit gives it alone.
// A head that stops early, fails, hits a non-finite loss or panics (an
// error then) frees its thread for the next and touches no other. onEpoch
// and onDone (either may be nil)
// run on the caller's goroutine, one call at a time; onDone once per
// configuration, in the order they finish.
//
// Heads are not stacked into one computation: every configuration's seed
// draws its own batches and dropout masks, so trials share no arithmetic,
// and the native engine has no per-operation overhead for stacking to save.
func FitMany(ctx context.Context, cfgs []Config, trainSet, valSet Data, classes, threads int,
	onEpoch func(trial int, e Epoch), onDone func(trial int, o Outcome)) {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	shared := newRows(trainSet, valSet)
	type event struct {
		trial int
		epoch *Epoch
		done  *Outcome
	}
	events, next := make(chan event), make(chan int)
	go func() {
		for i := range cfgs {
			next <- i
		}
		close(next)
	}()
	workers := min(threads, len(cfgs))
	finished := make(chan struct{})
	for range workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			for i := range next {
				o := fitSafely(ctx, cfgs[i], shared, classes, func(e Epoch) { events <- event{trial: i, epoch: &e} })
				events <- event{trial: i, done: &o}
			}
		}()
	}
	go func() {
		for range workers {
			<-finished
		}
		close(events)
	}()
	for ev := range events {
		switch {
		case ev.epoch != nil && onEpoch != nil:
			onEpoch(ev.trial, *ev.epoch)
		case ev.done != nil && onDone != nil:
			onDone(ev.trial, *ev.done)
		}
	}
}

// fitSafely is fitOne with a panic turned into the head's error: on a
// FitMany goroutine, no caller's recover would catch it.
func fitSafely(ctx context.Context, cfg Config, shared *rows, classes int, onEpoch func(Epoch)) (o Outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = Outcome{Err: fmt.Errorf("internal error (a dogrun bug, please report it with this message): %v\n%s", p, debug.Stack())}
		}
	}()
	o.Head, o.Result, o.Err = fitOne(ctx, cfg, shared, classes, onEpoch)
	return o
}

// rows are the training and validation rows of one or more heads, with
// each feature preprocessing fitted and applied once for all the heads
// that ask for it.
type rows struct {
	train, val Data
	mu         sync.Mutex
	prepared   map[string]*prepared
}

type prepared struct {
	once       sync.Once
	prep       *prep
	train, val Data
	err        error
}

func newRows(trainSet, valSet Data) *rows {
	return &rows{train: trainSet, val: valSet, prepared: map[string]*prepared{}}
}

// prepare is the rows as cfg's normalize and block weights preprocess them.
func (r *rows) prepare(cfg Config) *prepared {
	key := cfg.Normalize + "\x00" + cfg.BlockWeights
	r.mu.Lock()
	p, ok := r.prepared[key]
	if !ok {
		p = &prepared{}
		r.prepared[key] = p
	}
	r.mu.Unlock()
	p.once.Do(func() {
		if p.prep, p.err = fitPrep(cfg.Normalize, r.train); p.err != nil {
			return
		}
		apply := func() {
			p.train, p.val = r.train, r.val
			p.train.X = p.prep.apply(r.train.X, r.train.Dim)
			p.val.X = p.prep.apply(r.val.X, r.val.Dim)
		}
		apply()
		switch cfg.BlockWeights {
		case "", "equal":
		case "validation":
			if p.prep == nil || !p.prep.L2 || p.prep.Mean != nil {
				p.err = fmt.Errorf("head: block weights chosen on validation need normalize l2, not %q", cfg.Normalize)
				return
			}
			if p.prep.Weights, p.err = chooseBlockWeights(p.train, p.val); p.err == nil {
				apply()
			}
		default:
			p.err = fmt.Errorf("head: unknown block weights %q", cfg.BlockWeights)
		}
	})
	return p
}

func fitOne(ctx context.Context, cfg Config, shared *rows, classes int, onEpoch func(Epoch)) (*Head, Result, error) {
	trainSet := shared.train
	if err := checkFit(cfg, trainSet, shared.val, classes); err != nil {
		return nil, Result{}, err
	}
	if cfg.Trunk != nil {
		return fitGraph(ctx, cfg, trainSet, shared.val, classes, onEpoch)
	}
	p := shared.prepare(cfg)
	if p.err != nil {
		return nil, Result{}, p.err
	}
	h := &Head{Config: cfg, Classes: classes, Dim: trainSet.Dim, prep: p.prep}
	if cfg.Type == Prototype {
		n, e, err := newPrototype(p.train, p.val, classes, "/logits/")
		if err != nil {
			return nil, Result{}, err
		}
		if onEpoch != nil {
			onEpoch(e)
		}
		h.net = n
		return h, Result{Epochs: []Epoch{e}, BestEpoch: 1, StoppedEpoch: 1}, nil
	}
	t, err := newNative(cfg, p, classes)
	if err != nil {
		return nil, Result{}, err
	}
	res, err := epochs(ctx, cfg, p.train, p.val.Rows() > 0, t, onEpoch)
	if err != nil {
		return nil, res, err
	}
	h.net = t.net
	if cfg.Type == CosinePrototype {
		// The averaged head is what is kept and tested: its record closes
		// the epochs and is the best one.
		if h.proto, _, err = newPrototype(p.train, p.val, classes, prototypeScope); err != nil {
			return nil, res, err
		}
		e, err := averaged(h, p.train, p.val, res.StoppedEpoch+1)
		if err != nil {
			return nil, res, err
		}
		if onEpoch != nil {
			onEpoch(e)
		}
		res.Epochs = append(res.Epochs, e)
		res.BestEpoch, res.StoppedEpoch = e.Epoch, e.Epoch
	}
	return h, res, nil
}

func checkFit(cfg Config, trainSet, valSet Data, classes int) error {
	if trainSet.Rows() == 0 {
		return errors.New("head: empty training set")
	}
	if cfg.Trunk != nil && (cfg.Type == Prototype || cfg.Type == CosinePrototype) {
		return fmt.Errorf("head: a %s head works on cached features; it cannot train backbone layers", cfg.Type)
	}
	if cfg.Type == Prototype && len(cfg.Hidden) > 0 {
		return fmt.Errorf("head: a prototype head has no hidden layers, got %v", cfg.Hidden)
	}
	if cfg.BatchSize < 1 || cfg.Epochs < 1 {
		return fmt.Errorf("head: batch size %d and epochs %d must be positive", cfg.BatchSize, cfg.Epochs)
	}
	if classes < 2 {
		return fmt.Errorf("head: need at least 2 classes, got %d", classes)
	}
	for _, units := range cfg.Hidden {
		if units < 1 {
			return fmt.Errorf("head: hidden layers %v must have at least one unit each", cfg.Hidden)
		}
	}
	if valSet.Rows() > 0 && valSet.Dim != trainSet.Dim {
		return fmt.Errorf("head: validation rows have %d features, training rows %d", valSet.Dim, trainSet.Dim)
	}
	for _, d := range []Data{trainSet, valSet} {
		if d.Dim > 0 && (len(d.X)%d.Dim != 0 || len(d.Y) != d.Rows()) {
			return fmt.Errorf("head: %d values of %d features and %d labels do not make whole rows", len(d.X), d.Dim, len(d.Y))
		}
		for r, y := range d.Y {
			if y < 0 || int(y) >= classes {
				return fmt.Errorf("head: row %d has label %d, outside the %d classes", r, y, classes)
			}
		}
	}
	return nil
}

// trainer is one engine's head as the epoch loop drives it.
type trainer interface {
	// step trains on the rows of one batch; its mean loss and accuracy.
	step(batch []int) (loss, acc float64, err error)
	// evaluate scores the validation rows, dropout off.
	evaluate() (loss, acc float64, err error)
	// keep remembers the current weights as the best; restore brings them back.
	keep() error
	restore() error
}

// epochs is the training loop of every engine: each epoch shuffles the rows
// (with cfg.Mix, one drawn per photo), trains on ceil(rows/batch) full
// batches, the last wrapping around to the epoch's start, scores validation,
// and keeps the weights of the best epoch by cfg.Monitor; after cfg.Patience
// epochs without improvement it stops, holding the best weights.
func epochs(ctx context.Context, cfg Config, trainSet Data, haveVal bool, t trainer, onEpoch func(Epoch)) (Result, error) {
	shuffle := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x646f6772756e)) // "dogrun"
	sources := rowSources(trainSet, cfg.Mix)
	order := make([]int, trainSet.Rows())
	for i := range order {
		order[i] = i
	}
	if sources != nil {
		order = order[:len(sources)]
	}
	size := min(cfg.BatchSize, len(order))
	batch := make([]int, size)
	var (
		res    Result
		best   = math.Inf(1)
		kept   bool
		waited int
	)
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		start := time.Now()
		for i, rows := range sources {
			order[i] = rows[shuffle.IntN(len(rows))]
		}
		shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum, accSum float64
		steps := (len(order) + size - 1) / size
		for s := 0; s < steps; s++ {
			for i := range batch {
				batch[i] = order[(s*size+i)%len(order)]
			}
			loss, acc, err := t.step(batch)
			if err != nil {
				return res, fmt.Errorf("epoch %d: %w", epoch, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return res, fmt.Errorf("epoch %d step %d: %w (lr %g)", epoch, s+1, ErrNonFinite, cfg.LR)
			}
			lossSum += loss
			accSum += acc
		}
		e := Epoch{Epoch: epoch, TrainLoss: lossSum / float64(steps), TrainAccuracy: accSum / float64(steps)}
		if haveVal {
			var err error
			if e.ValLoss, e.ValAccuracy, err = t.evaluate(); err != nil {
				return res, err
			}
		}
		e.Seconds = time.Since(start).Seconds()
		res.Epochs = append(res.Epochs, e)
		res.StoppedEpoch = epoch
		if onEpoch != nil {
			onEpoch(e)
		}
		score := monitored(cfg.Monitor, e, haveVal)
		if score < best-cfg.MinDelta || !kept {
			best, kept = score, true
			res.BestEpoch = epoch
			if err := t.keep(); err != nil {
				return res, err
			}
			waited = 0
		} else if waited++; cfg.Patience > 0 && waited >= cfg.Patience {
			break
		}
	}
	return res, t.restore()
}

// native trains a head without a trunk on the native engine.
type native struct {
	net        *net
	grad, best []float32
	opt        *optim
	work       *work
	train, val Data
	labels     []int32 // the batch's
	// drop draws the dropout masks: a stream apart from the epochs'
	// shuffles, so changing the dropout rate leaves the batches as they were.
	drop *rand.Rand
}

func newNative(cfg Config, p *prepared, classes int) (*native, error) {
	n, err := newNet(cfg, p.train.Dim, classes)
	if err != nil {
		return nil, err
	}
	n.initialise(cfg.Seed)
	opt, err := newOptim(cfg, len(n.params))
	if err != nil {
		return nil, err
	}
	batch := min(cfg.BatchSize, p.train.Rows())
	return &native{net: n, grad: make([]float32, len(n.params)), opt: opt, train: p.train, val: p.val,
		work:   newWork(n, max(batch, min(evalRows, p.val.Rows()))),
		labels: make([]int32, batch),
		drop:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x64726f70)), // "drop"
	}, nil
}

// evalRows is the most rows a native forward pass takes at once outside training.
const evalRows = 256

func (t *native) step(batch []int) (loss, acc float64, err error) {
	dim, w, labels := t.train.Dim, t.work, t.labels[:len(batch)]
	for i, r := range batch {
		copy(w.in[0][i*dim:(i+1)*dim], t.train.X[r*dim:(r+1)*dim])
		labels[i] = t.train.Y[r]
	}
	logits := t.net.forward(t.net.params, w, len(batch), t.drop)
	loss, acc = softmaxLoss(logits, labels, t.net.dims[t.net.layers()], true)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, acc, nil
	}
	t.net.backward(t.net.params, t.grad, w, len(batch), logits)
	t.opt.update(t.net.params, t.grad)
	return loss, acc, nil
}

func (t *native) evaluate() (loss, acc float64, err error) {
	loss, acc = evaluate(t.net, t.net.params, t.work, t.val)
	return loss, acc, nil
}

func (t *native) keep() error {
	t.best = append(t.best[:0], t.net.params...)
	return nil
}

func (t *native) restore() error {
	copy(t.net.params, t.best)
	return nil
}

// softmaxLoss turns logits (rows of classes) into probabilities in place and
// returns the mean cross-entropy and accuracy against labels. With gradient
// set it leaves the gradient of the mean loss instead, (p - onehot)/rows.
func softmaxLoss(logits []float32, labels []int32, classes int, gradient bool) (loss, acc float64) {
	rows := len(labels)
	for r, y := range labels {
		row := logits[r*classes : (r+1)*classes]
		logit := float64(row[y]) // kept apart: its probability may underflow
		logZ, top := Probabilities(row)
		loss += logZ - logit
		if top == int(y) {
			acc++
		}
		if gradient {
			row[y]--
			for c := range row {
				row[c] /= float32(rows)
			}
		}
	}
	return loss / float64(rows), acc / float64(rows)
}

// Probabilities turns row's logits into probabilities in place and returns the
// log of their normaliser and the first largest logit's index.
func Probabilities(row []float32) (logZ float64, top int) {
	hi := row[0]
	for c, v := range row {
		if v > hi {
			hi, top = v, c
		}
	}
	var sum float64
	for c, v := range row {
		e := math.Exp(float64(v - hi))
		row[c] = float32(e)
		sum += e
	}
	for c := range row {
		row[c] = float32(float64(row[c]) / sum)
	}
	return float64(hi) + math.Log(sum), top
}

// evaluate is the loss and accuracy of n's weights p on d, dropout off,
// scored from probabilities as LossAndAccuracy scores them.
func evaluate(n *net, p []float32, w *work, d Data) (loss, acc float64) {
	classes := n.dims[n.layers()]
	for start := 0; start < d.Rows(); start += w.rows {
		rows := min(w.rows, d.Rows()-start)
		copy(w.in[0], d.X[start*d.Dim:(start+rows)*d.Dim])
		probs := n.forward(p, w, rows, nil)
		for r, y := range d.Y[start : start+rows] {
			Probabilities(probs[r*classes : (r+1)*classes])
			l, hit := scoreRow(probs[r*classes:(r+1)*classes], y)
			loss += l
			if hit {
				acc++
			}
		}
	}
	count := float64(d.Rows())
	return loss / count, acc / count
}
