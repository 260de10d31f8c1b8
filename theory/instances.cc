#include "theory/instances.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

namespace theory {
namespace {

Mat Gaussian(int rows, int cols, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  Mat m(rows, cols);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) m(i, j) = normal(rng);
  }
  return m;
}

// Q diag(log-spaced in [lo, hi]) Qᵀ with Q orthogonal (QR of a Gaussian matrix).
Mat Spd(int n, double lo, double hi, std::mt19937_64& rng) {
  Eigen::HouseholderQR<Mat> qr(Gaussian(n, n, rng));
  Mat q = qr.householderQ();
  Vec eig(n);
  for (int i = 0; i < n; ++i) {
    const double t = n == 1 ? 0.0 : static_cast<double>(i) / (n - 1);
    eig(i) = lo * std::pow(hi / lo, t);
  }
  Mat m = q * eig.asDiagonal() * q.transpose();
  return 0.5 * (m + m.transpose());
}

double SpectralNorm(const Mat& symmetric) {
  Eigen::SelfAdjointEigenSolver<Mat> es(symmetric, Eigen::EigenvaluesOnly);
  return std::max(std::abs(es.eigenvalues().minCoeff()), std::abs(es.eigenvalues().maxCoeff()));
}

double MaxEigenvalue(const Mat& symmetric) {
  Eigen::SelfAdjointEigenSolver<Mat> es(symmetric, Eigen::EigenvaluesOnly);
  return es.eigenvalues().maxCoeff();
}

// φ(u) = log(1 + e^{−u}) and its derivatives, computed stably.
double Phi(double u) { return u > 0 ? std::log1p(std::exp(-u)) : -u + std::log1p(std::exp(u)); }
double Sigmoid(double u) {
  return u >= 0 ? 1.0 / (1.0 + std::exp(-u)) : std::exp(u) / (1.0 + std::exp(u));
}
double PhiPrime(double u) { return -Sigmoid(-u); }
double PhiSecond(double u) { return Sigmoid(u) * Sigmoid(-u); }

// Mean logistic loss (1/n) Σ φ(r_iᵀy) and its gradient and Hessian in y.
double LogisticLoss(const Mat& rows, const Vec& y) {
  const Vec u = rows * y;
  double total = 0;
  for (int i = 0; i < u.size(); ++i) total += Phi(u(i));
  return total / rows.rows();
}
Vec LogisticGrad(const Mat& rows, const Vec& y) {
  Vec u = rows * y;
  for (int i = 0; i < u.size(); ++i) u(i) = PhiPrime(u(i));
  return rows.transpose() * u / static_cast<double>(rows.rows());
}
Mat LogisticHess(const Mat& rows, const Vec& y) {
  Vec u = rows * y;
  for (int i = 0; i < u.size(); ++i) u(i) = PhiSecond(u(i));
  return rows.transpose() * u.asDiagonal() * rows / static_cast<double>(rows.rows());
}

}  // namespace

Vec Instance::SampleX(std::mt19937_64& rng) const { return Gaussian(dim_x(), 1, rng).col(0); }

// ---------------------------------------------------------------------------------------------
QuadraticInstance::QuadraticInstance(int dim_x, int dim_y, double condition, uint64_t seed)
    : p_(dim_x),
      q_(dim_y),
      name_("quadratic(p=" + std::to_string(dim_x) + ",q=" + std::to_string(dim_y) +
            ",cond=" + std::to_string(static_cast<int>(condition)) + ")") {
  std::mt19937_64 rng(seed);
  A_ = Spd(q_, 1.0, condition, rng);
  B_ = Mat::Identity(p_, p_);
  C_ = Gaussian(p_, q_, rng, 1.0 / std::sqrt(static_cast<double>(q_)));
  a_ = Gaussian(q_, 1, rng).col(0);
  b_ = Gaussian(p_, 1, rng).col(0);
  M_ = Spd(p_ + q_, 1.0, 4.0, rng);
  m_ = Gaussian(p_ + q_, 1, rng).col(0);
  H_g_ = Mat(p_ + q_, p_ + q_);
  H_g_ << B_, C_, C_.transpose(), A_;
}

double QuadraticInstance::F(const Vec& x, const Vec& y) const {
  Vec w(p_ + q_);
  w << x, y;
  return 0.5 * w.dot(M_ * w) + m_.dot(w);
}

double QuadraticInstance::G(const Vec& x, const Vec& y) const {
  return 0.5 * y.dot(A_ * y) + 0.5 * x.dot(B_ * x) + x.dot(C_ * y) + a_.dot(y) + b_.dot(x);
}

Vec QuadraticInstance::GradF(const Vec& x, const Vec& y) const {
  Vec w(p_ + q_);
  w << x, y;
  return M_ * w + m_;
}

Vec QuadraticInstance::GradG(const Vec& x, const Vec& y) const {
  Vec grad(p_ + q_);
  grad << B_ * x + C_ * y + b_, A_ * y + C_.transpose() * x + a_;
  return grad;
}

Constants QuadraticInstance::Bounds() const {
  Constants c;
  c.L_f = SpectralNorm(M_);
  c.L_g = SpectralNorm(H_g_);
  Eigen::SelfAdjointEigenSolver<Mat> es(A_, Eigen::EigenvaluesOnly);
  c.mu = es.eigenvalues().minCoeff();
  c.rho_g = 0;
  return c;  // C_f = +inf: ∇_y f is affine, unbounded
}

// ---------------------------------------------------------------------------------------------
LogisticInstance::LogisticInstance(int dim_x, int dim_y, int num_train, int num_val, Outer outer,
                                   uint64_t seed)
    : p_(dim_x),
      q_(dim_y),
      outer_(outer),
      name_(std::string("logistic-inner/") +
            (outer == Outer::kQuadratic ? "quadratic-outer" : "logistic-outer") +
            "(p=" + std::to_string(dim_x) + ",q=" + std::to_string(dim_y) + ")") {
  std::mt19937_64 rng(seed);
  const Vec w = Gaussian(q_, 1, rng).col(0);
  auto labelled = [&](int rows) {
    Mat data = Gaussian(rows, q_, rng);
    for (int i = 0; i < rows; ++i) {
      // 10% label noise keeps the problem from being separable.
      const double sign = (data.row(i).dot(w) >= 0 ? 1.0 : -1.0) *
                          (std::uniform_real_distribution<double>(0, 1)(rng) < 0.1 ? -1 : 1);
      data.row(i) *= sign;
    }
    return data;
  };
  train_ = labelled(num_train);
  val_ = labelled(num_val);
  K_ = Gaussian(p_, q_, rng, 0.5 / std::sqrt(static_cast<double>(q_)));
  y_target_ = Gaussian(q_, 1, rng).col(0);
}

double LogisticInstance::F(const Vec& x, const Vec& y) const {
  const double outer =
      outer_ == Outer::kQuadratic ? 0.5 * (y - y_target_).squaredNorm() : LogisticLoss(val_, y);
  return outer + 0.5 * c_ * x.squaredNorm();
}

double LogisticInstance::G(const Vec& x, const Vec& y) const {
  return LogisticLoss(train_, y) + 0.5 * reg_ * y.squaredNorm() + x.dot(K_ * y);
}

Vec LogisticInstance::GradF(const Vec& x, const Vec& y) const {
  Vec grad(p_ + q_);
  grad << c_ * x, (outer_ == Outer::kQuadratic ? Vec(y - y_target_) : LogisticGrad(val_, y));
  return grad;
}

Vec LogisticInstance::GradG(const Vec& x, const Vec& y) const {
  Vec grad(p_ + q_);
  grad << K_ * y, LogisticGrad(train_, y) + reg_ * y + K_.transpose() * x;
  return grad;
}

Mat LogisticInstance::HessF(const Vec& x, const Vec& y) const {
  Mat h = Mat::Zero(p_ + q_, p_ + q_);
  h.topLeftCorner(p_, p_) = c_ * Mat::Identity(p_, p_);
  h.bottomRightCorner(q_, q_) =
      outer_ == Outer::kQuadratic ? Mat(Mat::Identity(q_, q_)) : LogisticHess(val_, y);
  return h;
}

Mat LogisticInstance::HessG(const Vec& x, const Vec& y) const {
  Mat h = Mat::Zero(p_ + q_, p_ + q_);
  h.topRightCorner(p_, q_) = K_;
  h.bottomLeftCorner(q_, p_) = K_.transpose();
  h.bottomRightCorner(q_, q_) = LogisticHess(train_, y) + reg_ * Mat::Identity(q_, q_);
  return h;
}

Constants LogisticInstance::Bounds() const {
  Constants c;
  const double n = static_cast<double>(train_.rows());
  Mat upper = Mat::Zero(p_ + q_, p_ + q_);
  upper.topRightCorner(p_, q_) = K_;
  upper.bottomLeftCorner(q_, p_) = K_.transpose();
  upper.bottomRightCorner(q_, q_) =
      train_.transpose() * train_ / (4.0 * n) + reg_ * Mat::Identity(q_, q_);
  // ∇²g lies between the matrix with yy-block reg·I and `upper`: its largest eigenvalue is at
  // most upper's, its smallest at least −‖K‖ (the yy-block is PSD).
  c.L_g = std::max(MaxEigenvalue(upper), SpectralNorm(K_));
  c.mu = reg_;
  // |φ'''| ≤ 1/(6√3), so ‖∇³g‖ ≤ (1/n) Σ ‖a_i‖³ / (6√3).
  double cubes = 0;
  for (int i = 0; i < train_.rows(); ++i) cubes += std::pow(train_.row(i).norm(), 3);
  c.rho_g = cubes / n / (6.0 * std::sqrt(3.0));
  if (outer_ == Outer::kQuadratic) {
    c.L_f = std::max(c_, 1.0);
  } else {
    const double m = static_cast<double>(val_.rows());
    c.L_f = std::max(c_, MaxEigenvalue(val_.transpose() * val_) / (4.0 * m));
    double norms = 0;  // |φ'| < 1: ‖∇_y f‖ ≤ (1/m) Σ ‖e_j‖
    for (int j = 0; j < val_.rows(); ++j) norms += val_.row(j).norm();
    c.C_f = norms / m;
  }
  return c;
}

}  // namespace theory
